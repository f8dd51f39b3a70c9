import Foundation

/// DDIM (Song, Meng & Ermon 2021) on N times uniform in [ε, T]: from the denoised estimate x̂₀ = E[x₀ | x_t]
/// (Tweedie) and the noise it implies, ε̂ = (x_t − m_t x̂₀)/σ_t, the step to s < t is
/// x_s = m_s x̂₀ + √(σ_s² − c²)·ε̂ + c·z with c = η·(σ_s/σ_t)·G, G² = σ_t² − (m_t/m_s)²σ_s² the forward
/// transition's variance. η = 0 is the deterministic DDIM (the probability-flow ODE's first-order exponential
/// integrator), η = 1 the ancestral DDPM step; for VP these are the paper's formulas, and the same expressions
/// carry over to VE and sub-VP marginals. The last evaluation, at ε, gives x̂₀. One evaluation per step.
public struct DDIMSampler: Sampler {
    public var sde: any SDE
    public var steps: Int
    public var eta: Double
    public var epsilon: Double
    /// Known values held while the rest is sampled: x̂₀ of a known coordinate is its value, so that the step
    /// keeps it at m_s·y + σ_s·z (deterministic: the same z; ancestral: fresh noise of the right variance).
    public var inpainting: Inpainting? = nil

    public init(sde: any SDE, steps: Int, eta: Double = 0, epsilon: Double = 1e-3) {
        precondition(steps >= 1 && eta >= 0 && epsilon > 0 && epsilon < sde.T)
        self.sde = sde
        self.steps = steps
        self.eta = eta
        self.epsilon = epsilon
    }

    public var times: [Double] {
        steps == 1 ? [sde.T] : (0..<steps).map { sde.T - Double($0) * (sde.T - epsilon) / Double(steps - 1) }
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let full = [count] + shape
        var x = sde.priorSample(full, streams: &streams)
        let known = inpainting?.rows(first, count)
        if let known {  // on the known coordinates' path at T: m_T·y + σ_T·z
            let z = streams.gaussian(full), m = Float(sde.meanCoefficient(sde.T)), s = Float(sde.std(sde.T))
            x = known.replacing(x) { base, k, at in m * known.data.scalars[base + k] + s * z.scalars[at] }
        }
        let tape = Tape(recording: false)
        let times = self.times
        for (i, t) in times.enumerated() {
            try control?.check()
            let s = evaluateScore(score, x, [Double](repeating: t, count: count), tape: tape)
            var x0 = tweedieDenoise(x, score: s, t: t, perturbation: sde)
            if let known { x0 = known.impose(on: x0) }
            if i == times.count - 1 {
                x = x0
            } else {
                let next = times[i + 1]
                let mt = sde.meanCoefficient(t), st = sde.std(t), ms = sde.meanCoefficient(next), ss = sde.std(next)
                let g2 = max(st * st - (mt / ms) * (mt / ms) * ss * ss, 0)
                let c = eta * (ss / st) * g2.squareRoot()
                let keep = max(ss * ss - c * c, 0).squareRoot() / st
                // x_s = m_s x̂₀ + keep·(x_t − m_t x̂₀) + c z
                var stepped = x * Float(keep)
                stepped.addScaled(x0, Float(ms - keep * mt))
                if c > 0 { stepped.addScaled(streams.gaussian(full), Float(c)) }
                x = stepped
            }
            control?.report(first: first, rows: count, fraction: Double(i + 1) / Double(times.count))
            control?.preview(first: first, step: i + 1, total: times.count) { [x] in (x, x0) }
        }
        return SampleBatch(x: x, nfe: times.count)
    }
}

extension DDIMSampler {
    public static let entry = SamplerEntry(
        name: "ddim", summary: "DDIM on uniform times: deterministic (eta 0) to ancestral (eta 1), one evaluation per step",
        // For images ancestral and stopping at ε = 0.3 (σ ≈ 0.1 for the VE defaults): DDIM's best at about 20
        // evaluations on MNIST (docs/benchmarks.md), where the deterministic samplers carry the score's errors at
        // small noise into the images.
        families: [.sde],
        parameters: [
            DenoiserParameters.budget(default: 20),
            Parameter("eta", .number(.closed(0, 1)), default: .byKind(points: .value(0), images: .value(1)),
                      help: "η in [0, 1]: 0 deterministic (DDIM), 1 ancestral (DDPM)"),
            SamplerParameters.epsEnd.with(default: .byKind(points: .value(1e-3), images: .value(0.3))),
        ],
        make: { v, space in
            DDIMSampler(sde: space.schedule.sde!, steps: v.int("steps"), eta: v.double("eta"), epsilon: v.double("eps_end"))
        })
}

extension DDIMSampler: InpaintingSampler {
    public func inpainting(_ known: Inpainting) -> DDIMSampler {
        var s = self
        s.inpainting = known
        return s
    }
}
