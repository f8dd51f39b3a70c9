/// The NCSN objective (Song & Ermon 2019, eq. 6): denoising score matching over the noise ladder,
/// L(θ) = (1/L) Σᵢ λ(σᵢ) ½ E|s_θ(x̃, σᵢ) + (x̃ − x)/σᵢ²|² with λ(σ) = σ², the level drawn uniformly per example.
public struct AnnealedDenoisingScoreMatching: ScoreMatchingObjective {
    public var ladder: NoiseLadder

    public init(ladder: NoiseLadder) { self.ladder = ladder }

    public func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var {
        let n = x.shape[0]
        let levels = (0..<n).map { _ in 1 + rng.index(below: ladder.levels) }
        let t = Tensor(shape: [n], scalars: levels.map { Float(ladder.time(level: $0)) })
        let sigma = Tensor(shape: rowShape(x.shape), scalars: levels.map { Float(ladder.sigma(level: $0)) })
        let z = rng.gaussian(x.shape)
        let noisy = tape.constant(x + z * sigma)
        let s = score(noisy, tape.constant(t))
        // λ(σ)·½|s + z/σ|² = ½|σ s + z|²
        return ((s * sigma + z).squared() * 0.5).sum() * (1 / Float(n))
    }
}
