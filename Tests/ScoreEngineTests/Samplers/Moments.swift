import ScoreEngine
import Testing

/// Checks sample moments against a Gaussian's with tolerances from the sample size: the sample mean of
/// coordinate a has standard error √(Σ_aa/n), the sample covariance entry (a, b) √((Σ_aa Σ_bb + Σ_ab²)/n).
/// `k` standard errors are allowed, plus `bias` for a sampler's known discretisation error.
func expectMoments(_ x: Tensor, mean: [Double], covariance: [Double], k: Double = 5, bias: Double = 0,
                   _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let n = x.shape[0], d = mean.count
    #expect(x.shape == [n, d], sourceLocation: sourceLocation)
    var m = [Double](repeating: 0, count: d)
    for i in 0..<n { for a in 0..<d { m[a] += Double(x.scalars[i * d + a]) / Double(n) } }
    for a in 0..<d {
        let se = (covariance[a * d + a] / Double(n)).squareRoot()
        #expect(abs(m[a] - mean[a]) <= k * se + bias, "\(what): mean[\(a)] \(m[a]) vs \(mean[a]) (se \(se))",
                sourceLocation: sourceLocation)
    }
    for a in 0..<d {
        for b in a..<d {
            var c = 0.0
            for i in 0..<n { c += (Double(x.scalars[i * d + a]) - m[a]) * (Double(x.scalars[i * d + b]) - m[b]) }
            c /= Double(n - 1)
            let ref = covariance[a * d + b]
            let se = ((covariance[a * d + a] * covariance[b * d + b] + ref * ref) / Double(n)).squareRoot()
            #expect(abs(c - ref) <= k * se + bias, "\(what): cov[\(a),\(b)] \(c) vs \(ref) (se \(se))",
                    sourceLocation: sourceLocation)
        }
    }
}
