import Foundation

/// Exact log-likelihoods through the probability-flow ODE (Song et al. 2021, §4.3 and App. D.2; Chen et al.
/// 2018): along dx/dt = f̃(x, t) = f(x, t) − ½g(t)² s_θ(x, t),
/// log p₀(x(0)) = log p_T(x(T)) + ∫₀ᵀ ∇·f̃(x(t), t) dt, with ∇·f̃ = a(t)·D − ½g(t)² ∇·s_θ.
/// The divergence is exact (D backward passes, low dimension) or Hutchinson's estimate εᵀ(∂s/∂x)ε with one
/// probe ε per sample, fixed along the trajectory (unbiased for log p). Integrated from ε to T.
public struct LikelihoodEstimator: Sendable {
    public enum Divergence: Sendable, Equatable {
        case exact
        case hutchinson(Probe)
    }

    public var sde: any SDE
    public var solver: ODESolver
    public var epsilon: Double
    public var divergence: Divergence

    /// Largest dimension for the exact divergence.
    public static let maxExactDimension = 64

    /// The time the integration starts from (the data's), unless told otherwise.
    public static let defaultEpsilon = 1e-5

    public init(sde: any SDE, solver: ODESolver = ODESolver(), epsilon: Double = LikelihoodEstimator.defaultEpsilon, divergence: Divergence = .exact) {
        self.sde = sde
        self.solver = solver
        self.epsilon = epsilon
        self.divergence = divergence
    }

    public struct Result: Sendable {
        /// log p₀(xᵢ) in nats, per sample.
        public var logLikelihood: [Double]
        /// The latent x(T) of each sample.
        public var latent: Tensor
        public var nfe: Int

        public init(logLikelihood: [Double], latent: Tensor, nfe: Int) {
            self.logLikelihood = logLikelihood
            self.latent = latent
            self.nfe = nfe
        }

        /// Bits per dimension, −log p/(D ln 2) + offset (offset 8 for 8-bit data scaled to [0, 1] and dequantised).
        public func bitsPerDimension(dimension d: Int, offset: Double = 0) -> [Double] {
            logLikelihood.map { -$0 / (Double(d) * Foundation.log(2)) + offset }
        }
    }

    /// log p₀ of each row of x ([n, …]); probes for row i come from stream `first + i` of `seed`.
    public func logLikelihood(_ score: any ScoreFunction, _ x: Tensor, seed: UInt64 = 0, first: Int = 0,
                              control: SamplingControl? = nil) throws -> Result {
        let n = x.shape[0], d = x.count / max(n, 1)
        let sampleShape = Array(x.shape.dropFirst())
        if divergence == .exact {
            precondition(d <= LikelihoodEstimator.maxExactDimension, "exact divergence is for D ≤ \(LikelihoodEstimator.maxExactDimension)")
        }
        var streams = RowStreams(seed: seed, first: first, count: n)
        let allProbes: Tensor?
        switch divergence {
        case .exact: allProbes = nil
        case .hutchinson(.rademacher): allProbes = streams.rademacher(x.shape)
        case .hutchinson(.gaussian): allProbes = streams.gaussian(x.shape)
        }
        // State per row: [x, Δ] with Δ = ∫ ∇·f̃ dt.
        let y0 = Tensor.concatenate([x.reshaped([n, d]), .zeros([n, 1])], axis: 1)
        let tape = Tape()
        let sde = self.sde, divergence = self.divergence
        let (y, nfe) = try solver.solve(y0, from: epsilon, to: sde.T, progress: {
            control?.report(first: first, rows: n, fraction: $0.fraction)
        }) { state, t, rowIndex in
            try control?.check()
            let rows = state.shape[0]
            let xs = state.slice(axis: 1, 0..<d).reshaped([rows] + sampleShape)
            tape.reset()
            let xv = tape.variable(xs)
            let s = score.score(xv, t: t)
            var divS = [Float](repeating: 0, count: rows)
            switch divergence {
            case .exact:
                for j in 0..<d {
                    var e = Tensor.zeros(xs.shape)
                    for i in 0..<rows { e.scalars[i * d + j] = 1 }
                    let g = tape.gradients(of: s, wrt: [xv], seed: e)[0].value
                    for i in 0..<rows { divS[i] += g.scalars[i * d + j] }
                }
            case .hutchinson:
                let v = allProbes!.rows(at: rowIndex)
                let g = tape.gradients(of: s, wrt: [xv], seed: v)[0].value  // vᵀ ∂s/∂x
                let vg = (g * v).reshaped([rows, d]).sum(to: [rows, 1])
                divS = vg.scalars
            }
            let drift = sde.probabilityFlow(xs, score: s.value, t: t)
            let ddelta = Tensor(shape: [rows, 1], scalars: (0..<rows).map { i in
                let g = sde.diffusion(t[i])
                return Float(sde.driftCoefficient(t[i]) * Double(d) - 0.5 * g * g * Double(divS[i]))
            })
            return Tensor.concatenate([drift.reshaped([rows, d]), ddelta], axis: 1)
        }
        let z = y.slice(axis: 1, 0..<d).reshaped(x.shape)
        let delta = y.slice(axis: 1, d..<(d + 1)).scalars
        let prior = sde.priorLogDensity(z)
        return Result(logLikelihood: zip(prior, delta).map { $0 + Double($1) }, latent: z, nfe: nfe)
    }
}

/// Discrete data in [0, 1] (8-bit images) and its continuous density: uniform dequantisation
/// (Theis et al. 2016; Song et al. 2021, App. D.2) maps a pixel k/255 to (k + u)/256 with u ~ U[0, 1), so the
/// dequantised data lie in [0, 1) and each of the 256 bins has width 1/256. A density p over the dequantised
/// data bounds the discrete model's log-likelihood, log P(k) ≥ E_u[log p((k + u)/256)] − D·log 256, which in
/// bits per dimension is −log₂ p/D + 8.
public enum Dequantization {
    public static let levels = 256

    /// Row i dequantised with its own noise stream (seed, first + i), so a row's value depends only on
    /// (seed, row index).
    public static func apply(_ x: Tensor, seed: UInt64, first: Int = 0) -> Tensor {
        let n = x.shape[0], d = x.count / max(n, 1)
        var out = x
        for i in 0..<n {
            var rng = Philox(seed: Philox.mix(seed ^ RandomPurpose.dequantization), stream: UInt64(first + i))
            for k in 0..<d {
                let level = (x.scalars[i * d + k] * 255).rounded()
                out.scalars[i * d + k] = (Swift.min(Swift.max(level, 0), 255) + rng.uniform()) / Float(levels)
            }
        }
        return out
    }

    /// The bin width's contribution to bits per dimension: log₂ 256 = 8 (the `offset` of
    /// `LikelihoodEstimator.Result.bitsPerDimension`).
    public static var offsetBits: Double { Foundation.log2(Double(levels)) }

}
