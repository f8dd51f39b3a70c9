import Foundation
import ScoreEngine
import Testing

/// The Gaussian draws: the vectorised Box–Muller transform against the double-precision formula on the same
/// bits, the bulk paths against one-by-one draws, and the moments of many draws.
@Suite struct RandomTests {
    @Test func boxMullerMatchesDoublePrecision() {
        var rng = Philox(seed: 21)
        for _ in 0..<20_000 {
            var copy = rng
            let b1 = copy.next32(), b2 = copy.next32()
            let u1 = (Double(b1 >> 8) + 1) * 0x1p-24, u2 = Double(b2 >> 8) * 0x1p-24
            let r = (-2 * Foundation.log(u1)).squareRoot(), a = 2 * Double.pi * u2
            let z0 = rng.gaussian(), z1 = rng.gaussian()
            // Float rounding of r (≤ 5.8) and of the angle reduction: a few ulp of 5.8.
            #expect(abs(Double(z0) - r * Foundation.cos(a)) <= 3e-6, "cos part for bits \(b1), \(b2)")
            #expect(abs(Double(z1) - r * Foundation.sin(a)) <= 3e-6, "sin part for bits \(b1), \(b2)")
        }
    }

    @Test func bulkDrawsEqualOneByOne() {
        var bulk = Philox(seed: 5, stream: 3), single = bulk
        for n in [1, 2, 7, 16, 17, 33] {
            let t = bulk.gaussian([n])
            #expect(t.scalars == (0..<n).map { _ in single.gaussian() }, "n = \(n)")
        }
        for inner in [1, 2, 3] {
            var streams = RowStreams(seed: 9, first: 4, count: 11)
            var rows = (0..<11).map { Philox(seed: 9, stream: UInt64(4 + $0)) }
            for _ in 0..<3 {
                let t = streams.gaussian([11, inner])
                let expected = (0..<11).flatMap { r in (0..<inner).map { _ in rows[r].gaussian() } }
                #expect(t.scalars == expected, "\(inner) per row")
            }
        }
    }

    @Test func momentsOfManyDraws() {
        var rng = Philox(seed: 77)
        let n = 1_000_000
        let z = rng.gaussian([n]).scalars.map(Double.init)
        let mean = z.reduce(0, +) / Double(n)
        let m2 = z.map { $0 * $0 }.reduce(0, +) / Double(n)
        let m4 = z.map { $0 * $0 * $0 * $0 }.reduce(0, +) / Double(n)
        // Five standard errors: sd(z̄) = 1/√n, sd(mean of z²) = √(2/n), sd(mean of z⁴) = √(96/n).
        #expect(abs(mean) <= 5 / Double(n).squareRoot())
        #expect(abs(m2 - 1) <= 5 * (2 / Double(n)).squareRoot())
        #expect(abs(m4 - 3) <= 5 * (96 / Double(n)).squareRoot())
        let tail = z.filter { abs($0) > 3 }.count
        let p = 0.0026997960632601866  // P(|z| > 3)
        #expect(abs(Double(tail) / Double(n) - p) <= 5 * (p * (1 - p) / Double(n)).squareRoot())
    }
}
