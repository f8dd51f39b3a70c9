/// The Langevin corrector of the predictor–corrector sampler (Song et al. 2021, Algorithm 4): at fixed t,
/// `steps` Langevin moves x ← x + ε s + √(2ε) z with the step set by a signal-to-noise ratio r.
///
/// The paper picks ε = 2α(r‖z‖/‖s‖)² with α = (m(t)/m(t − h))² (1 for VE), and score_sde averages the norms
/// over the batch. Here ε = 2α(r σ(t))², the value of that rule when ‖z‖² ≈ D and ‖s‖² ≈ D/σ(t)², as they
/// are in high dimension (score_sde's `ald` form). Per-sample norms would make ε ∝ 1/‖s‖² unbounded in low
/// dimension (‖s‖ → 0 near a mode), and batch-averaged ones would make a sample depend on the others
/// drawn beside it.
public struct LangevinCorrector: Sendable, Equatable, Codable {
    public var snr: Double
    public var steps: Int

    public init(snr: Double = 0.16, steps: Int = 1) {
        precondition(snr > 0 && steps >= 1)
        self.snr = snr
        self.steps = steps
    }

    /// The step ε at time t of `sde`, with α = (m(t)/m(t − h))².
    public func stepSize(t: Double, h: Double, sde: any SDE) -> Double {
        let a = sde.meanCoefficient(t) / sde.meanCoefficient(t - h)
        let r = snr * sde.std(t)
        return 2 * a * a * r * r
    }

    /// One Langevin move given the score and noise; returns the new state and its mean.
    public func step(_ x: Tensor, score s: Tensor, noise z: Tensor, stepSize eps: Double) -> (x: Tensor, mean: Tensor) {
        var mean = x
        mean.addScaled(s, Float(eps))
        var out = mean
        out.addScaled(z, Float((2 * eps).squareRoot()))
        return (out, mean)
    }
}
