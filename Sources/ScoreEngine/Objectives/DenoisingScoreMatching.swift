/// Denoising score matching with one noise scale (Vincent 2011): x̃ = x + σz and
/// J(θ) = ½ E|s_θ(x̃) + (x̃ − x)/σ²|², the regression of s_θ onto ∇ log q_σ(x̃ | x). Summed over dimensions,
/// averaged over the batch; the score is unconditional (it estimates the score of p_σ).
public struct DenoisingScoreMatching: ScoreMatchingObjective {
    public var sigma: Float

    public init(sigma: Float) {
        precondition(sigma > 0)
        self.sigma = sigma
    }

    public func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var {
        let n = x.shape[0]
        let z = rng.gaussian(x.shape)
        let noisy = tape.constant(FixedNoise(sigma: Double(sigma)).perturb(x, t: [Double](repeating: 0, count: n), noise: z))
        let s = score(noisy, tape.times(0, n))
        return ((s + z * (1 / sigma)).squared() * 0.5).sum() * (1 / Float(n))
    }
}

extension DenoisingScoreMatching {
    /// `dsm`: continuous-time DSM on an SDE (`ContinuousDenoisingScoreMatching`), or with `sigma` set, DSM with that one scale.
    public static let entry = ObjectiveEntry(
        name: "dsm", summary: "denoising score matching: continuous time on an SDE (eq. 7), or with sigma set, one noise scale",
        parameters: [
            Parameter("sigma", .number(.above(0, upTo: 1e6)), default: .none("unset: train on the SDE"),
                      help: "one noise scale σ (then no SDE is used)"),
            Parameter("sde", .choice(SDERegistry.names), default: .value("ve"), help: "the SDE", when: .init("sigma", in: [.null])),
            Parameter("weighting", .choice(ContinuousDenoisingScoreMatching.Weighting.allCases.map(\.rawValue)), default: .value("sigma2"),
                      help: "λ(t): sigma2 (σ(t)²) or likelihood (g(t)², which bounds the NLL)", when: .init("sigma", in: [.null])),
        ],
        sdeName: { v in v.has("sigma") ? nil : v.string("sde") },
        schedule: { v, _ in .fixed(sigma: v.double("sigma")) },
        make: { v, schedule in
            if case .fixed(let s) = schedule { return DenoisingScoreMatching(sigma: Float(s)) }
            return ContinuousDenoisingScoreMatching(sde: schedule.sde!, weighting: .init(rawValue: v.string("weighting"))!)
        })
}
