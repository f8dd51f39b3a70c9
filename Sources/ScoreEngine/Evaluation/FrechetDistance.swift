import Foundation

/// The Fréchet distance between two Gaussians fitted to features (Heusel et al. 2017, FID's measure):
/// d² = |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2(Σ₁^{½} Σ₂ Σ₁^{½})^{½}), the matrix square roots from symmetric
/// eigen-decompositions (Jacobi's method, in double precision).
public struct FeatureStatistics: Sendable {
    public let mean: [Double]
    /// Row-major d×d covariance (unbiased).
    public let covariance: [Double]
    public let count: Int

    /// The mean and covariance of the rows of `features` ([n, d]).
    public init(_ features: Tensor) {
        let n = features.shape[0], d = features.count / max(n, 1)
        precondition(n >= 2, "statistics need at least two rows")
        var m = [Double](repeating: 0, count: d)
        for i in 0..<n { for a in 0..<d { m[a] += Double(features.scalars[i * d + a]) } }
        for a in 0..<d { m[a] /= Double(n) }
        var c = [Double](repeating: 0, count: d * d)
        var row = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for a in 0..<d { row[a] = Double(features.scalars[i * d + a]) - m[a] }
            for a in 0..<d { for b in a..<d { c[a * d + b] += row[a] * row[b] } }
        }
        for a in 0..<d { for b in a..<d { c[a * d + b] /= Double(n - 1); c[b * d + a] = c[a * d + b] } }
        mean = m
        covariance = c
        count = n
    }

    public var dimension: Int { mean.count }

    /// d² to another set of statistics.
    public func frechetDistance(to other: FeatureStatistics) -> Double {
        let d = dimension
        precondition(other.dimension == d)
        var meanTerm = 0.0
        for a in 0..<d { meanTerm += (mean[a] - other.mean[a]) * (mean[a] - other.mean[a]) }
        let root = SymmetricMatrix.squareRoot(covariance, d)
        // Σ₁^{½} Σ₂ Σ₁^{½} is symmetric positive semi-definite: tr of its square root is Σ √λ.
        let m = SymmetricMatrix.multiply(SymmetricMatrix.multiply(root, other.covariance, d), root, d)
        let crossTrace = SymmetricMatrix.eigenvalues(SymmetricMatrix.symmetrised(m, d), d).reduce(0) { $0 + max($1, 0).squareRoot() }
        var trace = 0.0
        for a in 0..<d { trace += covariance[a * d + a] + other.covariance[a * d + a] }
        return meanTerm + trace - 2 * crossTrace
    }
}

/// Small dense symmetric-matrix routines (row-major, double precision).
enum SymmetricMatrix {
    static func multiply(_ a: [Double], _ b: [Double], _ d: Int) -> [Double] {
        var c = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for k in 0..<d { let x = a[i * d + k]; if x != 0 { for j in 0..<d { c[i * d + j] += x * b[k * d + j] } } } }
        return c
    }

    static func symmetrised(_ a: [Double], _ d: Int) -> [Double] {
        var s = a
        for i in 0..<d { for j in 0..<d { s[i * d + j] = 0.5 * (a[i * d + j] + a[j * d + i]) } }
        return s
    }

    /// Eigenvalues and eigenvectors (columns of V) by cyclic Jacobi rotations, to a relative off-diagonal norm of 1e-14.
    static func decompose(_ a: [Double], _ d: Int) -> (values: [Double], vectors: [Double]) {
        var m = a
        var v = [Double](repeating: 0, count: d * d)
        for i in 0..<d { v[i * d + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for i in 0..<d { for j in 0..<d { total += m[i * d + j] * m[i * d + j]; if i != j { off += m[i * d + j] * m[i * d + j] } } }
            if off <= 1e-28 * max(total, 1e-300) { break }
            for p in 0..<d {
                for q in (p + 1)..<max(d, p + 1) {
                    let apq = m[p * d + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (m[q * d + q] - m[p * d + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<d {
                        let mkp = m[k * d + p], mkq = m[k * d + q]
                        m[k * d + p] = c * mkp - s * mkq
                        m[k * d + q] = s * mkp + c * mkq
                    }
                    for k in 0..<d {
                        let mpk = m[p * d + k], mqk = m[q * d + k]
                        m[p * d + k] = c * mpk - s * mqk
                        m[q * d + k] = s * mpk + c * mqk
                    }
                    for k in 0..<d {
                        let vkp = v[k * d + p], vkq = v[k * d + q]
                        v[k * d + p] = c * vkp - s * vkq
                        v[k * d + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<d).map { m[$0 * d + $0] }, v)
    }

    static func eigenvalues(_ a: [Double], _ d: Int) -> [Double] { decompose(a, d).values }

    /// The symmetric positive semi-definite square root V diag(√max(λ, 0)) Vᵀ.
    static func squareRoot(_ a: [Double], _ d: Int) -> [Double] {
        let (values, v) = decompose(a, d)
        var out = [Double](repeating: 0, count: d * d)
        for k in 0..<d {
            let r = max(values[k], 0).squareRoot()
            if r == 0 { continue }
            for i in 0..<d { let vik = v[i * d + k] * r; for j in 0..<d { out[i * d + j] += vik * v[j * d + k] } }
        }
        return out
    }
}
