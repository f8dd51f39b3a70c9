/// Summary statistics of a data set that settings default to.
extension Tensor {
    /// The largest standard deviation of one coordinate over the rows.
    public var maxCoordinateStd: Double {
        let n = shape[0], d = count / Swift.max(n, 1)
        guard n > 1 else { return 0 }
        var best = 0.0
        for k in 0..<d {
            var s = 0.0, s2 = 0.0
            for i in 0..<n { let v = Double(scalars[i * d + k]); s += v; s2 += v * v }
            let mean = s / Double(n)
            best = Swift.max(best, (Swift.max(s2 / Double(n) - mean * mean, 0)).squareRoot())
        }
        return best
    }

    /// The largest Euclidean distance between two rows, over the first `sample` rows.
    public func maxPairwiseDistance(sample: Int) -> Double {
        let n = Swift.min(shape[0], sample), d = count / Swift.max(shape[0], 1)
        var best: Float = 0
        scalars.withUnsafeBufferPointer { p in
            for i in 0..<n {
                for j in (i + 1)..<Swift.max(n, i + 1) {
                    var s: Float = 0
                    for k in 0..<d { let v = p[i * d + k] - p[j * d + k]; s += v * v }
                    best = Swift.max(best, s)
                }
            }
        }
        return Double(best.squareRoot())
    }

    /// The root-mean-square distance to the mean, per coordinate (σ_d of the input preconditioning).
    public var rmsScale: Double {
        let n = shape[0], d = count / Swift.max(n, 1)
        var total = 0.0
        for k in 0..<d {
            var s = 0.0, s2 = 0.0
            for i in 0..<n { let v = Double(scalars[i * d + k]); s += v; s2 += v * v }
            let mean = s / Double(n)
            total += Swift.max(s2 / Double(n) - mean * mean, 0)
        }
        return Swift.max((total / Double(d)).squareRoot(), 1e-3)
    }
}
