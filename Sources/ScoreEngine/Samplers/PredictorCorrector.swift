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

    public var description: String {
        var parts = ["steps=\(steps)"]
        if let corrector { parts.append("snr=\(corrector.snr)") ; parts.append("corrector_steps=\(corrector.steps)") }
        return "\(predictor?.name ?? "none")+\(corrector == nil ? "none" : "langevin")(\(parts.joined(separator: ", ")))"
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let full = [count] + shape
        var x = sde.priorSample(full, streams: &streams)
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
                    nfe += 1
                }
            }
            if let predictor {
                let s = evaluateScore(score, x, times, tape: tape)
                (x, mean) = predictor.step(x, score: s, t: t, h: h, sde: sde, noise: streams.gaussian(full))
                nfe += 1
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
        control?.report(first: first, rows: count, fraction: 1)
        return SampleBatch(x: x, nfe: nfe)
    }
}
