/// Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): for σ₁ > … > σ_L, run T Langevin steps at each
/// level with αᵢ = ε σᵢ²/σ_L²: x ← x + (αᵢ/2) s_θ(x, σᵢ) + √αᵢ z. The chain starts from N(0, σ₁² I); with
/// `denoise` the result gets the final step x + σ_L² s_θ(x, σ_L) (Jolicoeur-Martineau et al. 2021).
public struct AnnealedLangevinDynamics: Sampler {
    public var ladder: NoiseLadder
    public var stepsPerLevel: Int
    public var epsilon: Double
    public var denoise: Bool

    public init(ladder: NoiseLadder, stepsPerLevel: Int = 100, epsilon: Double = 2e-5, denoise: Bool = true) {
        precondition(stepsPerLevel >= 1 && epsilon > 0)
        self.ladder = ladder
        self.stepsPerLevel = stepsPerLevel
        self.epsilon = epsilon
        self.denoise = denoise
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let full = [count] + shape
        var x = ChainStart.gaussian(std: Float(ladder.sigmaMax)).draw(full, &streams)
        let tape = Tape(recording: false)
        let sigmaL = ladder.sigmaMin
        var nfe = 0
        for i in 1...ladder.levels {
            let sigma = ladder.sigma(level: i)
            let alpha = epsilon * sigma * sigma / (sigmaL * sigmaL)
            let t = [Double](repeating: ladder.time(level: i), count: count)
            for _ in 0..<stepsPerLevel {
                try control?.check()
                let s = evaluateScore(score, x, t, tape: tape)
                x.addScaled(s, Float(alpha / 2))
                x.addScaled(streams.gaussian(full), Float(alpha.squareRoot()))
                nfe += 1
            }
            control?.report(first: first, rows: count, fraction: Double(i) / Double(ladder.levels))
            control?.preview(first: first, step: i, total: ladder.levels) { [x] in (x, nil) }
        }
        if denoise {
            let s = evaluateScore(score, x, [Double](repeating: 0, count: count), tape: tape)
            x = tweedieDenoise(x, score: s, t: 0, perturbation: ladder)
            nfe += 1
        }
        return SampleBatch(x: x, nfe: nfe)
    }
}

extension AnnealedLangevinDynamics {
    /// Annealed Langevin dynamics over the model's noise ladder.
    public static let entry = SamplerEntry(
        name: "annealed_langevin", summary: "annealed Langevin dynamics over the NCSN noise ladder (Song & Ermon 2019, Algorithm 1)",
        families: [.ladder],
        parameters: [
            SamplerParameters.steps(default: 100, help: "Langevin steps T per noise level"),
            SamplerParameters.stepSize(2e-5, "ε: the step at level i is αᵢ = ε σᵢ²/σ_L²"),
            SamplerParameters.denoise.with(default: .value(true)),
        ],
        make: { v, source in
            guard case .ladder(let ladder) = source.schedule else { preconditionFailure("annealed Langevin needs a ladder") }
            return AnnealedLangevinDynamics(ladder: ladder, stepsPerLevel: v.int("steps"), epsilon: v.double("step_size"),
                                            denoise: v.bool("denoise"))
        })
}
