/// The predictor–corrector sampler (Song et al. 2021, Algorithm 1) on the grid tₖ = T − k·h,
/// h = (T − ε)/N, k = 0…N−1: at each tₖ, optional Langevin corrector steps, then one predictor step to tₖ − h.
/// Predictor-only (Euler–Maruyama, reverse diffusion) and corrector-only samplers are special cases.
/// The chain starts from the prior. The result is the noise-free mean of the last step, or with `denoise`
/// Tweedie's estimate at ε (one more score evaluation).
public struct PredictorCorrectorSampler: Sampler {
    public var sde: any SDE
    public var predictor: (any Predictor)?
    public var corrector: LangevinCorrector?
    public var steps: Int
    public var epsilon: Double
    public var denoise: Bool
    /// Inpainting (Song et al. 2021, App. G): known values are held at the data, perturbed to the current
    /// time, after every step, so only the rest is sampled.
    public var inpainting: Inpainting?

    public init(sde: any SDE, predictor: (any Predictor)? = EulerMaruyamaPredictor(), corrector: LangevinCorrector? = nil,
                steps: Int = 500, epsilon: Double = 1e-3, denoise: Bool = false) {
        precondition(steps >= 1 && epsilon > 0 && epsilon < sde.T && (predictor != nil || corrector != nil))
        self.sde = sde
        self.predictor = predictor
        self.corrector = corrector
        self.steps = steps
        self.epsilon = epsilon
        self.denoise = denoise
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let full = [count] + shape
        var x = sde.priorSample(full, streams: &streams)
        let inpainting = self.inpainting?.rows(first, count)
        if let inpainting { x = inpainting.impose(on: x) }
        let tape = Tape(recording: false)
        let h = (sde.T - epsilon) / Double(steps)
        var nfe = 0
        var mean = x
        for k in 0..<steps {
            try control?.check()
            let t = sde.T - Double(k) * h
            let times = [Double](repeating: t, count: count)
            if let corrector {
                let eps = corrector.stepSize(t: t, h: h, sde: sde)
                for _ in 0..<corrector.steps {
                    let s = evaluateScore(score, x, times, tape: tape)
                    (x, mean) = corrector.step(x, score: s, noise: streams.gaussian(full), stepSize: eps)
                    if let inpainting { (x, mean) = inpainting.constrain(x, mean, t: t, sde: sde, noise: streams.gaussian(full)) }
                    nfe += 1
                }
            }
            var last: (x: Tensor, score: Tensor, t: Double)? = nil
            if let predictor {
                let s = evaluateScore(score, x, times, tape: tape)
                last = (x, s, t)
                (x, mean) = predictor.step(x, score: s, t: t, h: h, sde: sde, noise: streams.gaussian(full))
                if let inpainting { (x, mean) = inpainting.constrain(x, mean, t: t - h, sde: sde, noise: streams.gaussian(full)) }
                nfe += 1
            }
            control?.preview(first: first, step: k + 1, total: steps) { [mean, last] in
                (mean, last.map { tweedieDenoise($0.x, score: $0.score, t: $0.t, perturbation: sde) })
            }
            if k % 10 == 9 { control?.report(first: first, rows: count, fraction: Double(k + 1) / Double(steps)) }
        }
        if denoise {
            let s = evaluateScore(score, x, [Double](repeating: epsilon, count: count), tape: tape)
            x = tweedieDenoise(x, score: s, t: epsilon, perturbation: sde)
            nfe += 1
        } else {
            x = mean  // no noise in the last step, as the seed notebook does
        }
        if let inpainting { x = inpainting.impose(on: x) }
        control?.report(first: first, rows: count, fraction: 1)
        return SampleBatch(x: x, nfe: nfe)
    }
}

extension PredictorCorrectorSampler {
    static let predictorParameter = Parameter(
        "predictor", .choice(Predictors.names), default: .value(.string(ReverseDiffusionPredictor().name)),
        help: "the predictor: reverse_diffusion (eq. 46) or em (Euler–Maruyama)")
    static let snrParameter = Parameter(
        "snr", .number(.above(0, upTo: 10)), default: .value(0.16),
        help: "the Langevin corrector's signal-to-noise ratio r (step ε = 2α(r σ(t))²)")
    static let correctorStepsParameter = Parameter(
        "corrector_steps", .integer(1...100), default: .value(1), help: "Langevin corrector steps per time step")

    /// Predictor–corrector (Song et al. 2021, Algorithm 1): a predictor step and Langevin corrector steps per time step.
    public static let pc = SamplerEntry(
        name: "pc", summary: "predictor–corrector: a reverse-diffusion (or Euler–Maruyama) step then Langevin corrector steps, per time step",
        families: [.sde],
        parameters: [SamplerParameters.steps(default: 500, help: "time steps N"), predictorParameter, snrParameter,
                     correctorStepsParameter, SamplerParameters.epsEnd, SamplerParameters.denoise],
        make: { v, source in
            PredictorCorrectorSampler(sde: source.schedule.sde!, predictor: Predictors.named(v.string("predictor"))!,
                                      corrector: LangevinCorrector(snr: v.double("snr"), steps: v.int("corrector_steps")),
                                      steps: v.int("steps"), epsilon: v.double("eps_end"), denoise: v.bool("denoise"))
        })

    /// The reverse-time SDE by Euler–Maruyama alone.
    public static let em = predictorOnly("em", EulerMaruyamaPredictor(), summary: "Euler–Maruyama on the reverse-time SDE")
    /// The reverse-time SDE by the reverse-diffusion predictor alone (the ancestral step of NCSN and DDPM).
    public static let reverseDiffusion = predictorOnly("reverse_diffusion", ReverseDiffusionPredictor(),
                                                       summary: "reverse diffusion (the discretisation of eq. 46; ancestral sampling)")

    static func predictorOnly(_ name: String, _ predictor: any Predictor, summary: String) -> SamplerEntry {
        SamplerEntry(
            name: name, summary: summary, families: [.sde],
            parameters: [SamplerParameters.steps(default: 1000, help: "time steps N"), SamplerParameters.epsEnd, SamplerParameters.denoise],
            make: { v, source in
                PredictorCorrectorSampler(sde: source.schedule.sde!, predictor: predictor, corrector: nil, steps: v.int("steps"),
                                          epsilon: v.double("eps_end"), denoise: v.bool("denoise"))
            })
    }
}

/// A sampler that can hold known values fixed while it fills in the rest (inpainting).
public protocol InpaintingSampler: Sampler {
    func inpainting(_ known: Inpainting) -> Self
}

extension PredictorCorrectorSampler: InpaintingSampler {
    public func inpainting(_ known: Inpainting) -> PredictorCorrectorSampler {
        var s = self
        s.inpainting = known
        return s
    }
}

/// What an inpainting run knows: one item `data` and a `mask` of its shape, 1 where the value is known
/// (kept), 0 where it is to be sampled; or one item and mask per row of the run (imputation of points, each
/// with its own known coordinates), shaped [rows] + the item's shape. With a `channelTransform` (an orthogonal
/// C×C matrix A, images [C, H, W]) the known values are coordinates of A·x at each pixel rather than of x: the
/// colorization of Song et al. (2021, App. I.3), where the first row of A is the grey level (1, 1, 1)/√3 and
/// only that coordinate is known.
public struct Inpainting: Sendable {
    public let data: Tensor
    public let mask: Tensor
    /// Whether `data` and `mask` hold one item per row of the run.
    public let perRow: Bool
    /// A (row-major C×C, orthogonal) when the knowns are in the decoupled space.
    public let channelTransform: [Float]?

    public init(data: Tensor, mask: Tensor, perRow: Bool = false, channelTransform: [Float]? = nil) {
        precondition(data.shape == mask.shape, "inpainting data \(data.shape) and mask \(mask.shape) differ")
        if let a = channelTransform {
            let c = data.shape[perRow ? 1 : 0]
            precondition(a.count == c * c && data.rank == (perRow ? 4 : 3), "a channel transform needs images and a C×C matrix")
        }
        self.data = data
        self.mask = mask
        self.perRow = perRow
        self.channelTransform = channelTransform
    }

    /// The colorization transform for RGB: rows (1, 1, 1)/√3 (the grey level), (−2, 1, 1)/√6, (0, 1, −1)/√2.
    public static let decoupledColour: [Float] = {
        let a = Float(1 / 3.0.squareRoot()), b = Float(1 / 6.0.squareRoot()), c = Float(1 / 2.0.squareRoot())
        return [a, a, a, -2 * b, b, b, 0, c, -c]
    }()

    /// Colorization of a grey image [1, H, W] (values in [0, 1]) for RGB models: its grey level is the known
    /// first coordinate of the decoupled space at every pixel, the other two are sampled.
    public static func colorization(grey: Tensor) -> Inpainting {
        precondition(grey.rank == 3 && grey.shape[0] == 1)
        let hw = grey.count
        var data = [Float](repeating: 0, count: 3 * hw), mask = [Float](repeating: 0, count: 3 * hw)
        for p in 0..<hw { data[p] = grey.scalars[p] * 3.0.squareRoot().floatValue; mask[p] = 1 }
        let shape = [3, grey.shape[1], grey.shape[2]]
        return Inpainting(data: Tensor(shape: shape, scalars: data), mask: Tensor(shape: shape, scalars: mask), channelTransform: decoupledColour)
    }

    /// Imputation: items [k, …] with their masks, each completed `n` times (rows i·n ..< (i + 1)·n are item i's).
    public static func repeated(values: Tensor, mask: Tensor, times n: Int) -> Inpainting {
        precondition(values.shape == mask.shape && n >= 1)
        let items = values.shape[0], d = values.count / max(items, 1)
        func expand(_ t: Tensor) -> Tensor {
            var out = [Float]()
            out.reserveCapacity(items * n * d)
            for i in 0..<items { for _ in 0..<n { out += t.scalars[(i * d)..<((i + 1) * d)] } }
            return Tensor(shape: [items * n] + Array(t.shape.dropFirst()), scalars: out)
        }
        return Inpainting(data: expand(values), mask: expand(mask), perRow: true)
    }

    /// The knowns of rows [first, first + count) of the run.
    public func rows(_ first: Int, _ count: Int) -> Inpainting {
        guard perRow else { return self }
        let r = first..<(first + count)
        return Inpainting(data: data.rows(r), mask: mask.rows(r), perRow: true, channelTransform: channelTransform)
    }

    /// Entries of one row's item.
    var itemSize: Int { perRow ? mask.count / max(mask.shape[0], 1) : mask.count }

    /// x with the known coordinates of every row set to `value(row base, entry k, current value)`.
    func replacing(_ x: Tensor, _ value: (Int, Int, Int) -> Float) -> Tensor {
        let d = itemSize, n = x.count / max(d, 1)
        var out = x
        if let a = channelTransform {
            let c = Int(Double(a.count).squareRoot()), hw = d / c
            var y = [Float](repeating: 0, count: c)
            for i in 0..<n {
                let base = perRow ? i * d : 0
                for p in 0..<hw {
                    guard (0..<c).contains(where: { mask.scalars[base + $0 * hw + p] > 0.5 }) else { continue }
                    for r in 0..<c { y[r] = (0..<c).reduce(0) { $0 + a[r * c + $1] * x.scalars[i * d + $1 * hw + p] } }
                    for r in 0..<c where mask.scalars[base + r * hw + p] > 0.5 { y[r] = value(base, r * hw + p, i * d + r * hw + p) }
                    for ch in 0..<c { out.scalars[i * d + ch * hw + p] = (0..<c).reduce(0) { $0 + a[$1 * c + ch] * y[$1] } }
                }
            }
            return out
        }
        for i in 0..<n {
            let base = perRow ? i * d : 0
            for k in 0..<d where mask.scalars[base + k] > 0.5 { out.scalars[i * d + k] = value(base, k, i * d + k) }
        }
        return out
    }

    /// x with the known values imposed exactly (the data).
    func impose(on x: Tensor) -> Tensor {
        replacing(x) { base, k, _ in data.scalars[base + k] }
    }

    /// After a step that leaves the chain at time t: the known coordinates of x become m(t)·data + σ(t)·z, those
    /// of the noise-free mean m(t)·data.
    func constrain(_ x: Tensor, _ mean: Tensor, t: Double, sde: any SDE, noise: Tensor) -> (Tensor, Tensor) {
        let m = Float(sde.meanCoefficient(t)), s = Float(sde.std(t))
        return (replacing(x) { base, k, at in m * data.scalars[base + k] + s * noise.scalars[at] },
                replacing(mean) { base, k, _ in m * data.scalars[base + k] })
    }
}

private extension Double {
    var floatValue: Float { Float(self) }
}
