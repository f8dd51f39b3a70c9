/// The NCSN objective (Song & Ermon 2019, eq. 6): denoising score matching over the noise ladder,
/// L(θ) = (1/L) Σᵢ λ(σᵢ) ½ E|s_θ(x̃, σᵢ) + (x̃ − x)/σᵢ²|² with λ(σ) = σ², the level drawn uniformly per example.
public struct AnnealedDenoisingScoreMatching: ScoreMatchingObjective {
    public var ladder: NoiseLadder

    public init(ladder: NoiseLadder) { self.ladder = ladder }

    public func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var {
        let n = x.shape[0]
        let t = (0..<n).map { _ in ladder.time(level: 1 + rng.index(below: ladder.levels)) }
        let z = rng.gaussian(x.shape)
        let noisy = tape.constant(ladder.perturb(x, t: t, noise: z))
        let s = score(noisy, tape.constant(Tensor(shape: [n], scalars: t.map { Float($0) })))
        // λ(σ)·½|s + z/σ|² = ½|σ s + z|²
        return ((s * perRow(t.map(ladder.std), x.shape) + z).squared() * 0.5).sum() * (1 / Float(n))
    }
}

extension AnnealedDenoisingScoreMatching {
    public static let entry = ObjectiveEntry(
        name: "ncsn", summary: "NCSN: denoising score matching over a geometric noise ladder σ_max … σ_min, λ(σ) = σ²",
        parameters: [
            VESDE.sigmaMinParameter, VESDE.sigmaMaxParameter,
            Parameter("levels", .integer(2...10_000), default: .value(10), help: "number of noise levels L"),
        ],
        check: VESDE.checkSigmas,
        schedule: { v, data in
            .ladder(NoiseLadder(sigmaMin: v.double("sigma_min"), sigmaMax: VESDE.sigmaMax(v, data: data), levels: v.int("levels")))
        },
        make: { _, schedule in
            guard case .ladder(let l) = schedule else { preconditionFailure("ncsn trains on a noise ladder") }
            return AnnealedDenoisingScoreMatching(ladder: l)
        })
}
