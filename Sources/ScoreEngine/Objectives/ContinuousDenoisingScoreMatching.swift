/// Continuous-time denoising score matching for an SDE (Song et al. 2021, eq. 7):
/// L(θ) = E_t E_{x₀} E_{x_t|x₀} [λ(t) |s_θ(x_t, t) − ∇ log p_{0t}(x_t | x₀)|²] with t ~ U(ε, T),
/// x_t = m(t)x₀ + σ(t)z, ∇ log p_{0t} = −z/σ(t). Weighting λ = σ(t)² gives |σ s + z|²; likelihood weighting
/// λ = g(t)² (Song et al. 2021b) bounds the negative log-likelihood. Summed over dimensions, mean over batch.
public struct ContinuousDenoisingScoreMatching: ScoreMatchingObjective {
    public enum Weighting: String, Sendable, Codable, CaseIterable {
        /// λ(t) = σ(t)².
        case sigmaSquared = "sigma2"
        /// λ(t) = g(t)².
        case likelihood
    }

    public var sde: any SDE
    public var weighting: Weighting
    /// Smallest training time ε.
    public var epsilon: Double

    public init(sde: any SDE, weighting: Weighting = .sigmaSquared, epsilon: Double = 1e-5) {
        self.sde = sde
        self.weighting = weighting
        self.epsilon = epsilon
    }

    public func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var {
        let n = x.shape[0]
        let t = (0..<n).map { _ in epsilon + Double(rng.uniform()) * (sde.T - epsilon) }
        let z = rng.gaussian(x.shape)
        return loss(score: score, batch: x, t: t, noise: z, tape: tape)
    }

    /// The loss at given times and noise.
    public func loss(score: (Var, Var) -> Var, batch x: Tensor, t: [Double], noise z: Tensor, tape: Tape) -> Var {
        let n = x.shape[0]
        let sigma = perRow(t.map(sde.std), x.shape)
        let noisy = tape.constant(sde.perturb(x, t: t, noise: z))
        let s = score(noisy, tape.constant(Tensor(shape: [n], scalars: t.map { Float($0) })))
        switch weighting {
        case .sigmaSquared:
            return (s * sigma + z).squared().sum() * (1 / Float(n))
        case .likelihood:
            let g2 = perRow(t.map { sde.diffusion($0) * sde.diffusion($0) }, x.shape)
            return ((s + z / sigma).squared() * g2).sum() * (1 / Float(n))
        }
    }
}
