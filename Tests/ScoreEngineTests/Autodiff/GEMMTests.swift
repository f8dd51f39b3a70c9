import ScoreEngine
import Testing

/// The small-matrix kernel against OpenBLAS, on shapes with every kind of tail and all transpositions.
@Suite struct GEMMTests {
    @Test func smallKernelMatchesBLAS() {
        var rng = Philox(seed: 8)
        for (m, n, k) in [(1, 1, 1), (3, 2, 5), (32, 64, 64), (33, 17, 7), (64, 2, 64), (5, 24, 3), (7, 40, 1), (64, 64, 32), (9, 19, 21), (16, 8, 16), (20, 13, 70), (300, 64, 64), (257, 9, 128), (500, 2, 64), (13, 5, 17), (30, 1, 8), (7, 3, 40), (2, 7, 9), (300, 300, 40)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = rng.gaussian(ta ? [k, m] : [m, k]), b = rng.gaussian(tb ? [n, k] : [k, n])
                    let fast = Tensor.matmul(a, b, transA: ta, transB: tb)
                    var ref = Tensor.zeros([m, n])
                    a.scalars.withUnsafeBufferPointer { pa in
                        b.scalars.withUnsafeBufferPointer { pb in
                            ref.scalars.withUnsafeMutableBufferPointer { pc in
                                Kernels.blasGEMM(transA: ta, transB: tb, m: m, n: n, k: k, pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                            }
                        }
                    }
                    #expect(fast.maxAbsDifference(ref) <= 1e-5 * Float(k), "\(m)×\(n)×\(k) \(ta) \(tb)")
                    // With a bias added to every row (the small kernel starts from it; BLAS gets it as β·C).
                    let z = rng.gaussian([n])
                    let biased = Tensor.matmul(a, b, transA: ta, transB: tb, bias: z)
                    var expected = ref
                    for i in 0..<m { for j in 0..<n { expected.scalars[i * n + j] += z.scalars[j] } }
                    #expect(biased.maxAbsDifference(expected) <= 1e-5 * Float(k + 1), "bias, \(m)×\(n)×\(k) \(ta) \(tb)")
                }
            }
        }
    }
}
