import Foundation

/// A linear Itô SDE dx = f(x, t) dt + g(t) dw on [0, T] with f(x, t) = a(t)·x (Song et al. 2021, §3).
///
/// Its perturbation kernel is Gaussian, x_t | x₀ ~ N(m(t)x₀, σ(t)²I); its time reversal (Anderson 1982) is
/// dx = [f(x, t) − g(t)² ∇ₓ log p_t(x)] dt + g(t) dw̄, and the probability-flow ODE with the same marginals is
/// dx/dt = f(x, t) − ½ g(t)² ∇ₓ log p_t(x).
public protocol SDE: Perturbation {
    /// Its name in the SDE registry (`ve`, `vp`, `subvp`).
    var name: String { get }
    /// Its settings by parameter key, as its registry entry declares them (`sigma_min`, …).
    var parameters: ParameterValues { get }
    /// End of the diffusion.
    var T: Double { get }
    /// a(t) in f(x, t) = a(t)·x.
    func driftCoefficient(_ t: Double) -> Double
    /// g(t).
    func diffusion(_ t: Double) -> Double
    /// Standard deviation of the prior p_T ≈ N(0, σ_T² I).
    var priorStd: Double { get }
}

extension SDE {
    /// Draws from the prior N(0, σ_T² I), row i from stream i.
    public func priorSample(_ shape: [Int], streams: inout RowStreams) -> Tensor {
        streams.gaussian(shape) * Float(priorStd)
    }

    /// log N(z; 0, σ_T² I) per row (nats).
    public func priorLogDensity(_ z: Tensor) -> [Double] {
        let n = z.shape[0], d = z.count / max(n, 1)
        let s2 = priorStd * priorStd
        return (0..<n).map { i in
            var q = 0.0
            for j in 0..<d { let v = Double(z.scalars[i * d + j]); q += v * v }
            return -0.5 * Double(d) * Foundation.log(2 * Double.pi * s2) - 0.5 * q / s2
        }
    }

    /// The exact Gaussian transition of the forward SDE from s = t − Δt to t: x_t = α·x_s + G·z with
    /// α = m(t)/m(s) and G² = σ(t)² − α²σ(s)². For VE it is the NCSN ladder step (G² = σ_t² − σ_s²), for VP the
    /// DDPM step (α = √(1 − β)); the reverse-diffusion predictor inverts it.
    public func transition(from s: Double, to t: Double) -> (alpha: Double, G: Double) {
        let alpha = meanCoefficient(t) / meanCoefficient(s)
        let st = std(t), ss = std(s)
        return (alpha, max(st * st - alpha * alpha * ss * ss, 0).squareRoot())
    }

    /// Drift of the reverse-time SDE, f(x, t) − g(t)² s(x, t), for a batch with per-row times.
    public func reverseDrift(_ x: Tensor, score: Tensor, t: [Double]) -> Tensor {
        x * perRow(t.map(driftCoefficient), x.shape) - score * perRow(t.map { diffusion($0) * diffusion($0) }, x.shape)
    }

    /// Drift of the probability-flow ODE, f(x, t) − ½ g(t)² s(x, t), for a batch with per-row times.
    public func probabilityFlow(_ x: Tensor, score: Tensor, t: [Double]) -> Tensor {
        x * perRow(t.map(driftCoefficient), x.shape) - score * perRow(t.map { 0.5 * diffusion($0) * diffusion($0) }, x.shape)
    }
}

/// A per-row scalar laid out to broadcast over a batch of `shape`.
public func perRow(_ values: [Double], _ shape: [Int]) -> Tensor {
    Tensor(shape: rowShape(shape), scalars: values.map { Float($0) })
}

