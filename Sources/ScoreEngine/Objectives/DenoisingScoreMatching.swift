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
        let noisy = tape.constant(x + z * sigma)
        let s = score(noisy, tape.times(0, n))
        return ((s + z * (1 / sigma)).squared() * 0.5).sum() * (1 / Float(n))
    }
}
