import Foundation

/// Two-sample distances between point clouds, to score samples against fresh data.
///
/// Energy distance (Székely & Rizzo 2013): D²(X, Y) = 2E|X − Y| − E|X − X′| − E|Y − Y′|, zero only for equal
/// distributions. Estimated by the V-statistic (all pairs, including i = j), which is positive for finite
/// samples even when the distributions agree, so that the data's own floor (two fresh draws of the same
/// size) is a meaningful yardstick.
/// Sliced Wasserstein-1: the mean over random unit directions θ of W₁ between the projections θᵀX and θᵀY
/// (for equal sizes, the mean gap between sorted projections).
public enum SampleQuality {
    public static func energyDistance(_ x: Tensor, _ y: Tensor) -> Double {
        2 * meanDistance(x, y) - meanDistance(x, x) - meanDistance(y, y)
    }

    static func meanDistance(_ a: Tensor, _ b: Tensor) -> Double {
        let n = a.shape[0], m = b.shape[0], d = a.count / max(n, 1)
        precondition(b.count / max(m, 1) == d, "point clouds of different dimension")
        var total = 0.0
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                for i in 0..<n {
                    var row = 0.0
                    for j in 0..<m {
                        var s: Float = 0
                        for k in 0..<d { let v = pa[i * d + k] - pb[j * d + k]; s += v * v }
                        row += Double(s.squareRoot())
                    }
                    total += row
                }
            }
        }
        return total / Double(n * m)
    }

    public static func slicedWasserstein1(_ x: Tensor, _ y: Tensor, projections: Int = 256, seed: UInt64 = 0) -> Double {
        let n = x.shape[0], m = y.shape[0], d = x.count / max(n, 1)
        var rng = Philox(seed: seed).derived(RandomPurpose.slices)
        var total = 0.0
        for _ in 0..<projections {
            var theta = (0..<d).map { _ in Double(rng.gaussian()) }
            let norm = theta.reduce(0) { $0 + $1 * $1 }.squareRoot()
            theta = theta.map { $0 / max(norm, 1e-12) }
            func project(_ t: Tensor, _ rows: Int) -> [Double] {
                (0..<rows).map { i in (0..<d).reduce(0.0) { $0 + theta[$1] * Double(t.scalars[i * d + $1]) } }.sorted()
            }
            let px = project(x, n), py = project(y, m)
            // W₁ of empirical measures: ∫|F⁻¹(u) − G⁻¹(u)| du over a common grid of quantiles.
            let k = max(n, m)
            var s = 0.0
            for q in 0..<k {
                let u = (Double(q) + 0.5) / Double(k)
                s += abs(px[min(Int(u * Double(n)), n - 1)] - py[min(Int(u * Double(m)), m - 1)])
            }
            total += s / Double(k)
        }
        return total / Double(projections)
    }

    /// Both distances of `samples` to fresh data, and the data's floor: the same distances between two fresh
    /// draws of the same size. One two-sample V-statistic of this kind has a spread comparable to its mean,
    /// so each figure is the mean over `replicates` independent fresh references (and fresh pairs for the
    /// sliced-W₁ floor), with its standard error. The energy-distance floor uses its closed form: for two
    /// independent draws of size n from one distribution, E[D̂²_V] = 2E|X − X′|/n, with E|X − X′| estimated
    /// from all the fresh points (pairs within each draw, i ≠ j).
    public struct Report: Sendable, Codable {
        public var energyDistance: Double
        public var energyDistanceFloor: Double
        public var slicedWasserstein1: Double
        public var slicedWasserstein1Floor: Double
        /// Standard errors of the four means.
        public var energyDistanceSE: Double
        public var energyDistanceFloorSE: Double
        public var slicedWasserstein1SE: Double
        public var slicedWasserstein1FloorSE: Double
        public var replicates: Int
    }

    public static func report(samples: Tensor, replicates: Int = 8, fresh: (Int) -> Tensor) -> Report {
        let n = samples.shape[0]
        var ed: [Double] = [], edFloor: [Double] = [], sw: [Double] = [], swFloor: [Double] = []
        for k in 0..<replicates {
            let a = fresh(n), b = fresh(n)
            ed.append(energyDistance(samples, a))
            // Within-draw mean distance over i ≠ j (the V-statistic's mean includes n zero diagonal terms).
            for c in [a, b] { edFloor.append(2 * meanDistance(c, c) * Double(n) / Double(n - 1) / Double(n)) }
            sw.append(slicedWasserstein1(samples, a, seed: UInt64(k)))
            swFloor.append(slicedWasserstein1(b, a, seed: UInt64(k)))
        }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        func se(_ v: [Double]) -> Double {
            guard v.count > 1 else { return 0 }
            let m = mean(v)
            return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1) / Double(v.count)).squareRoot()
        }
        return Report(energyDistance: mean(ed), energyDistanceFloor: mean(edFloor), slicedWasserstein1: mean(sw),
                      slicedWasserstein1Floor: mean(swFloor), energyDistanceSE: se(ed), energyDistanceFloorSE: se(edFloor),
                      slicedWasserstein1SE: se(sw), slicedWasserstein1FloorSE: se(swFloor), replicates: replicates)
    }
}
