import Foundation

/// The exact score of Gaussian data N(μ, Σ), Σ = R diag(λ) Rᵀ, perturbed by x_t = m(t)x₀ + σ(t)z:
/// p_t = N(m μ, R diag(m²λ + σ²) Rᵀ), so ∇ log p_t(x) = −R diag(1/(m²λ + σ²)) Rᵀ (x − mμ). A reference for
/// samplers and the likelihood, whose answers are then known in closed form.
public struct GaussianScore: ScoreFunction {
    public let mean: [Double]
    /// Columns are the eigenvectors (row-major d×d).
    public let rotation: [Double]
    public let variances: [Double]
    public let perturbation: (any Perturbation)?

    public init(mean: [Double], rotation: [Double]? = nil, variances: [Double], perturbation: (any Perturbation)?) {
        let d = mean.count
        precondition(variances.count == d && variances.allSatisfy { $0 > 0 })
        self.mean = mean
        self.rotation = rotation ?? (0..<(d * d)).map { $0 / d == $0 % d ? 1 : 0 }
        precondition(self.rotation.count == d * d)
        self.variances = variances
        self.perturbation = perturbation
    }

    public var dimension: Int { mean.count }

    func marginal(_ t: Double) -> (m: Double, v: [Double]) {
        let m = perturbation?.meanCoefficient(t) ?? 1, s = perturbation?.std(t) ?? 0
        return (m, variances.map { m * m * $0 + s * s })
    }

    /// The covariance matrix of p_t (row-major).
    public func covariance(at t: Double) -> [Double] {
        let d = dimension, (_, v) = marginal(t)
        return (0..<(d * d)).map { ij in
            let i = ij / d, j = ij % d
            return (0..<d).reduce(0.0) { $0 + rotation[i * d + $1] * v[$1] * rotation[j * d + $1] }
        }
    }

    /// The mean of p_t.
    public func mean(at t: Double) -> [Double] { mean.map { $0 * marginal(t).m } }

    public func score(_ x: Var, t: [Double]) -> Var {
        let n = x.shape[0], d = dimension
        var precision = [Float](repeating: 0, count: n * d * d)
        var shift = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let (m, v) = marginal(t[r])
            for i in 0..<d {
                shift[r * d + i] = Float(m * mean[i])
                for j in 0..<d {
                    precision[r * d * d + i * d + j] = Float((0..<d).reduce(0.0) {
                        $0 + rotation[i * d + $1] * rotation[j * d + $1] / v[$1]
                    })
                }
            }
        }
        let centred = x - x.tape.constant(Tensor(shape: [n, d], scalars: shift))
        let p = x.tape.constant(Tensor(shape: [n, d, d], scalars: precision))
        return -(centred.reshaped([n, 1, d]) * p).sum(to: [n, d, 1]).reshaped([n, d])
    }

    /// The exact probability-flow map from time s to t: along each eigenvector the flow scales the distance to
    /// the moving mean by √(v_t/v_s), x_t = m_t μ + R diag(√(v_t/v_s)) Rᵀ (x_s − m_s μ).
    public func flow(_ x: Tensor, from s: Double, to t: Double) -> Tensor {
        let n = x.shape[0], d = dimension
        let (ms, vs) = marginal(s), (mt, vt) = marginal(t)
        var out = x
        for r in 0..<n {
            for i in 0..<d {
                var v = mt * mean[i]
                for k in 0..<d {
                    let c = (0..<d).reduce(0.0) { $0 + rotation[$1 * d + k] * (Double(x.scalars[r * d + $1]) - ms * mean[$1]) }
                    v += rotation[i * d + k] * c * (vt[k] / vs[k]).squareRoot()
                }
                out.scalars[r * d + i] = Float(v)
            }
        }
        return out
    }

    /// log p_t(x) per row, in nats.
    public func logDensity(_ x: Tensor, t: Double) -> [Double] {
        let n = x.shape[0], d = dimension, (m, v) = marginal(t)
        let logDet = v.reduce(0.0) { $0 + Foundation.log(2 * Double.pi * $1) }
        return (0..<n).map { r in
            var q = 0.0
            for k in 0..<d {
                // k-th coordinate in the eigenbasis: Σᵢ R[i, k](x − mμ)ᵢ
                let c = (0..<d).reduce(0.0) { $0 + rotation[$1 * d + k] * (Double(x.scalars[r * d + $1]) - m * mean[$1]) }
                q += c * c / v[k]
            }
            return -0.5 * (logDet + q)
        }
    }
}
