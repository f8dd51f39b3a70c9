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
        if let inpainting { x = inpainting.impose(on: x, values: inpainting.data) }
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
        if let inpainting { x = inpainting.impose(on: x, values: inpainting.data) }
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
/// with its own known coordinates), shaped [rows] + the item's shape.
public struct Inpainting: Sendable {
    public let data: Tensor
    public let mask: Tensor
    /// Whether `data` and `mask` hold one item per row of the run.
    public let perRow: Bool

    public init(data: Tensor, mask: Tensor, perRow: Bool = false) {
        precondition(data.shape == mask.shape, "inpainting data \(data.shape) and mask \(mask.shape) differ")
        self.data = data
        self.mask = mask
        self.perRow = perRow
    }

    /// The knowns of rows [first, first + count) of the run.
    public func rows(_ first: Int, _ count: Int) -> Inpainting {
        guard perRow else { return self }
        let r = first..<(first + count)
        return Inpainting(data: data.rows(r), mask: mask.rows(r), perRow: true)
    }

    /// Entries of one row's item.
    var itemSize: Int { perRow ? mask.count / max(mask.shape[0], 1) : mask.count }

    /// x with the masked entries of every row replaced by `values` (one item, or one per row).
    func impose(on x: Tensor, values: Tensor) -> Tensor {
        let d = itemSize, n = x.count / max(d, 1), perRowValues = values.count == x.count
        var out = x
        for i in 0..<n {
            let base = perRow ? i * d : 0
            for k in 0..<d where mask.scalars[base + k] > 0.5 {
                out.scalars[i * d + k] = values.scalars[perRowValues ? i * d + k : k]
            }
        }
        return out
    }

    /// After a step that leaves the chain at time t: the known entries of x become m(t)·data + σ(t)·z, those
    /// of the noise-free mean m(t)·data.
    func constrain(_ x: Tensor, _ mean: Tensor, t: Double, sde: any SDE, noise: Tensor) -> (Tensor, Tensor) {
        let m = Float(sde.meanCoefficient(t)), s = Float(sde.std(t))
        let d = itemSize, n = x.count / max(d, 1)
        var xs = x, ms = mean
        for i in 0..<n {
            let base = perRow ? i * d : 0
            for k in 0..<d where mask.scalars[base + k] > 0.5 {
                let centre = m * data.scalars[base + k]
                xs.scalars[i * d + k] = centre + s * noise.scalars[i * d + k]
                ms.scalars[i * d + k] = centre
            }
        }
        return (xs, ms)
    }
}
