import Foundation

/// Latent codes by the probability-flow ODE (Song et al. 2021, §4.3, "uniquely identifiable encoding"):
/// encoding integrates the ODE from the data at ε to T (with the log-likelihood, `LikelihoodEstimator`),
/// decoding from a latent at T back to ε (`ProbabilityFlowODESampler.decoding`). Latents of the prior are
/// interpolated spherically, which keeps them at the prior's typical radius.
public enum LatentCodes {
    /// n latents along the great circle from a to b (both ends included):
    /// slerp(a, b; λ) = (sin((1 − λ)θ) a + sin(λθ) b) / sin θ with cos θ = a·b/(|a||b|); linear when a and b
    /// are parallel or opposite (the great circle is then undefined or not unique).
    public static func slerp(_ a: [Float], _ b: [Float], count n: Int) -> Tensor {
        precondition(a.count == b.count && !a.isEmpty && n >= 2)
        let da = a.map(Double.init), db = b.map(Double.init)
        let na = da.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = db.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let cosine = na > 0 && nb > 0 ? min(1, max(-1, zip(da, db).reduce(0) { $0 + $1.0 * $1.1 } / (na * nb))) : 1
        let theta = acos(cosine)
        var out = [Float]()
        out.reserveCapacity(n * a.count)
        for k in 0..<n {
            let l = Double(k) / Double(n - 1)
            let (wa, wb) = sin(theta) < 1e-6 ? (1 - l, l) : (sin((1 - l) * theta) / sin(theta), sin(l * theta) / sin(theta))
            for j in 0..<a.count { out.append(Float(wa * da[j] + wb * db[j])) }
        }
        return Tensor(shape: [n, a.count], scalars: out)
    }
}
