import ScoreEngine
import Testing

/// Broadcasting arithmetic, `sum(to:)` and `expand(to:)` against element-by-element loops written from the
/// definition, on shapes that take the fast paths (single elements, whole rows) and the general plan.
@Suite struct BroadcastTests {
    /// The index of `out`'s element `i` in an operand of shape `s` (broadcast axes read index 0).
    func sourceIndex(_ i: Int, _ out: [Int], _ s: [Int]) -> Int {
        var rem = i, idx = 0, step = 1
        var coords = [Int](repeating: 0, count: out.count)
        for k in stride(from: out.count - 1, through: 0, by: -1) { coords[k] = rem % out[k]; rem /= out[k] }
        for k in stride(from: s.count - 1, through: 0, by: -1) {
            let c = coords[out.count - s.count + k]
            idx += (s[k] == 1 ? 0 : c) * step
            step *= s[k]
        }
        return idx
    }

    @Test func binaryAndReductionsMatchTheDefinition() {
        var rng = Philox(seed: 12)
        let pairs: [([Int], [Int])] = [([2, 3, 4], [3, 4]), ([2, 3, 4], [1, 1, 4]), ([], [2, 3]), ([1, 1], [2, 3]),
                                       ([5, 7], [7]), ([7], [5, 7]), ([2, 3, 4], [2, 1, 4]), ([3, 1], [1, 4]),
                                       ([4, 1], [4, 6])]
        for (sa, sb) in pairs {
            let a = rng.gaussian(sa), b = rng.gaussian(sb)
            let out = Broadcast.shape(sa, sb)!
            let n = out.reduce(1, *)
            for (op, f) in [(BinaryOp.add, { (x: Float, y: Float) in x + y }), (.sub, { $0 - $1 }), (.mul, { $0 * $1 }),
                            (.div, { $0 / $1 })] {
                let r = Tensor.binary(op, a, b)
                #expect(r.shape == out)
                let expected = (0..<n).map { f(a.scalars[sourceIndex($0, out, sa)], b.scalars[sourceIndex($0, out, sb)]) }
                #expect(r.scalars == expected, "\(sa) \(op) \(sb)")
            }
            // The adjoint pair: summing the full tensor back to each operand's shape.
            let full = rng.gaussian(out)
            for s in [sa, sb] {
                var expected = [Float](repeating: 0, count: s.reduce(1, *))
                for i in 0..<n { expected[sourceIndex(i, out, s)] += full.scalars[i] }
                let got = full.sum(to: s)
                #expect(got.shape == s)
                #expect(zip(got.scalars, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(out) → \(s)")
                let e = Tensor(shape: s, scalars: (0..<expected.count).map { Float($0) })
                #expect(e.expand(to: out).scalars == (0..<n).map { e.scalars[sourceIndex($0, out, s)] }, "\(s) → \(out)")
            }
        }
    }
}
