/// Matrix products small enough that OpenBLAS's fixed costs (a pass scaling C by β, packing both operands)
/// outweigh its kernel: C[m×n] = op(A)·op(B) with a register-blocked kernel on eight-lane FMAs. Four rows of C
/// and sixteen columns are held in eight accumulators; each step over k loads two vectors of B's row k and
/// broadcasts four entries of op(A)'s column k. B's rows must be contiguous, so a transposed B is copied
/// once (k·n, against the m·k·n of the product; on the MLP shapes that beats a dot-product kernel over rows
/// of A and B).
enum SmallGEMM {
    typealias V = SIMD8<Float>

    /// Whether the product is small enough for this kernel: up to 64×64×64 per product (on the MLP shapes it
    /// beats sgemm's call), or of any height when op(B) is at most 128×128, which stays in cache while the
    /// kernel walks down A's rows (OpenBLAS's separate β pass and packing then cost more).
    static func applies(m: Int, n: Int, k: Int) -> Bool { (m * n * k <= 1 << 19 && n <= 256) || (n <= 128 && k <= 128) }

    /// C = op(A)·op(B), plus `bias` (n entries) added to every row when given.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                     _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                     bias: UnsafePointer<Float>? = nil) {
        // A′[i, p] = a[i·rs + p·cs]
        let rs = transA ? 1 : k, cs = transA ? m : 1
        if n < 8 {
            narrow(transA: transA, transB: transB, m: m, n: n, k: k, a, b, c, bias: bias)
        } else if transB {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: k * n) { buf in
                let bt = buf.baseAddress!
                transpose(b, rows: n, columns: k, into: bt)
                kernel(m, n, k, a, rs, cs, UnsafePointer(bt), c, bias: bias)
            }
        } else {
            kernel(m, n, k, a, rs, cs, b, c, bias: bias)
        }
    }

    /// Products with fewer than eight columns (a layer's output of two coordinates, and its gradients), which
    /// the column-vectorised kernel would leave to its scalar tail. Untransposed A: each C[i, j] is a dot
    /// product of A's row i and op(B)'s column j, both contiguous in k once op(B) is held as n×k rows, so the
    /// lanes run along k (four rows and two columns per pass). Transposed A: Cᵀ = op(B)ᵀ·Aᵀᵀ is wide, n × m
    /// with A's rows contiguous, so the usual kernel computes it and the n·m result is transposed back.
    static func narrow(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                       _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                       bias: UnsafePointer<Float>?) {
        if transA {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * m) { buf in
                let ct = buf.baseAddress!
                // op(B)ᵀ[j, p] = op(B)[p, j]: b[p·n + j] untransposed, b[j·k + p] transposed.
                kernel(n, m, k, b, transB ? k : 1, transB ? 1 : n, a, ct)
                transpose(UnsafePointer(ct), rows: n, columns: m, into: c)
            }
            if let bias { for i in 0..<m { for j in 0..<n { c[i &* n &+ j] += bias[j] } } }
        } else if transB {
            rowDots(m, n, k, a, b, c, bias: bias)
        } else {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: k * n) { buf in
                let bt = buf.baseAddress!
                transpose(b, rows: k, columns: n, into: bt)
                rowDots(m, n, k, a, UnsafePointer(bt), c, bias: bias)
            }
        }
    }

    /// C[i, j] = Σₚ a[i·k + p]·bt[j·k + p] (+ bias[j]) for n ≥ 1 rows of bt.
    static func rowDots(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ bt: UnsafePointer<Float>,
                        _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?) {
        let k8 = k & ~7
        var i = 0
        while i < m {
            let rows = min(4, m &- i)
            let ar = (a + i &* k, a + min(i &+ 1, m &- 1) &* k, a + min(i &+ 2, m &- 1) &* k, a + min(i &+ 3, m &- 1) &* k)
            var j = 0
            while j < n {
                let j1 = min(j &+ 1, n &- 1)
                let b0 = bt + j &* k, b1 = bt + j1 &* k
                var s00 = V.zero, s01 = V.zero, s10 = V.zero, s11 = V.zero
                var s20 = V.zero, s21 = V.zero, s30 = V.zero, s31 = V.zero
                var p = 0
                while p < k8 {
                    let w0 = load(b0 + p), w1 = load(b1 + p)
                    let x0 = load(ar.0 + p), x1 = load(ar.1 + p), x2 = load(ar.2 + p), x3 = load(ar.3 + p)
                    s00 = s00.addingProduct(x0, w0); s01 = s01.addingProduct(x0, w1)
                    s10 = s10.addingProduct(x1, w0); s11 = s11.addingProduct(x1, w1)
                    s20 = s20.addingProduct(x2, w0); s21 = s21.addingProduct(x2, w1)
                    s30 = s30.addingProduct(x3, w0); s31 = s31.addingProduct(x3, w1)
                    p &+= 8
                }
                let c0 = bias?[j] ?? 0, c1 = bias?[j1] ?? 0
                var t = (s00.sum() + c0, s01.sum() + c1, s10.sum() + c0, s11.sum() + c1,
                         s20.sum() + c0, s21.sum() + c1, s30.sum() + c0, s31.sum() + c1)
                while p < k {
                    let w0 = b0[p], w1 = b1[p]
                    t.0 += ar.0[p] * w0; t.1 += ar.0[p] * w1
                    t.2 += ar.1[p] * w0; t.3 += ar.1[p] * w1
                    t.4 += ar.2[p] * w0; t.5 += ar.2[p] * w1
                    t.6 += ar.3[p] * w0; t.7 += ar.3[p] * w1
                    p &+= 1
                }
                let two = j1 > j
                let cp = c + (i &* n &+ j)
                cp[0] = t.0; if two { cp[1] = t.1 }
                if rows > 1 { cp[n] = t.2; if two { cp[n &+ 1] = t.3 } }
                if rows > 2 { cp[2 &* n] = t.4; if two { cp[2 &* n &+ 1] = t.5 } }
                if rows > 3 { cp[3 &* n] = t.6; if two { cp[3 &* n &+ 1] = t.7 } }
                j &+= 2
            }
            i &+= 4
        }
    }

    /// t[p·rows + j] = b[j·columns + p]: 8×8 tiles transposed in registers (three rounds of splitting
    /// row pairs into their even and odd lanes), the edges element by element.
    static func transpose(_ b: UnsafePointer<Float>, rows: Int, columns: Int, into t: UnsafeMutablePointer<Float>) {
        let r8 = rows & ~7, c8 = columns & ~7
        var j = 0
        while j < r8 {
            var p = 0
            while p < c8 {
                let s = b + (j &* columns &+ p)
                var r0 = load(s), r1 = load(s + columns), r2 = load(s + 2 &* columns), r3 = load(s + 3 &* columns)
                var r4 = load(s + 4 &* columns), r5 = load(s + 5 &* columns), r6 = load(s + 6 &* columns), r7 = load(s + 7 &* columns)
                for _ in 0..<3 {
                    let p0 = SIMD16(lowHalf: r0, highHalf: r1), p1 = SIMD16(lowHalf: r2, highHalf: r3)
                    let p2 = SIMD16(lowHalf: r4, highHalf: r5), p3 = SIMD16(lowHalf: r6, highHalf: r7)
                    r0 = p0.evenHalf; r1 = p1.evenHalf; r2 = p2.evenHalf; r3 = p3.evenHalf
                    r4 = p0.oddHalf; r5 = p1.oddHalf; r6 = p2.oddHalf; r7 = p3.oddHalf
                }
                let d = t + (p &* rows &+ j)
                store(r0, d); store(r1, d + rows); store(r2, d + 2 &* rows); store(r3, d + 3 &* rows)
                store(r4, d + 4 &* rows); store(r5, d + 5 &* rows); store(r6, d + 6 &* rows); store(r7, d + 7 &* rows)
                p &+= 8
            }
            while p < columns {
                for r in j..<(j &+ 8) { t[p &* rows &+ r] = b[r &* columns &+ p] }
                p &+= 1
            }
            j &+= 8
        }
        while j < rows {
            for p in 0..<columns { t[p &* rows &+ j] = b[j &* columns &+ p] }
            j &+= 1
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// The accumulators start from the bias when there is one, so adding it costs no pass of its own.
    static func kernel(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                       _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil) {
        let n16 = n & ~15, n8 = n & ~7
        var i = 0
        while i < m {
            let rows = min(4, m - i)
            let a0 = a + i * rs
            let a1 = a + min(i + 1, m - 1) * rs, a2 = a + min(i + 2, m - 1) * rs, a3 = a + min(i + 3, m - 1) * rs
            var j = 0
            while j < n16 {
                let z0 = bias.map { load($0 + j) } ?? .zero, z1 = bias.map { load($0 + j + 8) } ?? .zero
                var c00 = z0, c01 = z1, c10 = z0, c11 = z1
                var c20 = z0, c21 = z1, c30 = z0, c31 = z1
                var bp = b + j
                for p in 0..<k {
                    let b0 = load(bp), b1 = load(bp + 8)
                    let q = p * cs
                    let x0 = V(repeating: a0[q]), x1 = V(repeating: a1[q]), x2 = V(repeating: a2[q]), x3 = V(repeating: a3[q])
                    c00 = c00.addingProduct(x0, b0); c01 = c01.addingProduct(x0, b1)
                    c10 = c10.addingProduct(x1, b0); c11 = c11.addingProduct(x1, b1)
                    c20 = c20.addingProduct(x2, b0); c21 = c21.addingProduct(x2, b1)
                    c30 = c30.addingProduct(x3, b0); c31 = c31.addingProduct(x3, b1)
                    bp += n
                }
                let cp = c + i * n + j
                store(c00, cp); store(c01, cp + 8)
                if rows > 1 { store(c10, cp + n); store(c11, cp + n + 8) }
                if rows > 2 { store(c20, cp + 2 * n); store(c21, cp + 2 * n + 8) }
                if rows > 3 { store(c30, cp + 3 * n); store(c31, cp + 3 * n + 8) }
                j += 16
            }
            if j < n8 {
                let z = bias.map { load($0 + j) } ?? .zero
                var c0 = z, c1 = z, c2 = z, c3 = z
                var bp = b + j
                for p in 0..<k {
                    let b0 = load(bp)
                    let q = p * cs
                    c0 = c0.addingProduct(V(repeating: a0[q]), b0)
                    c1 = c1.addingProduct(V(repeating: a1[q]), b0)
                    c2 = c2.addingProduct(V(repeating: a2[q]), b0)
                    c3 = c3.addingProduct(V(repeating: a3[q]), b0)
                    bp += n
                }
                let cp = c + i * n + j
                store(c0, cp)
                if rows > 1 { store(c1, cp + n) }
                if rows > 2 { store(c2, cp + 2 * n) }
                if rows > 3 { store(c3, cp + 3 * n) }
                j += 8
            }
            while j < n {
                for r in 0..<rows {
                    let ar = a + (i + r) * rs
                    var s: Float = bias?[j] ?? 0
                    for p in 0..<k { s += ar[p &* cs] * b[p &* n &+ j] }
                    c[(i + r) * n + j] = s
                }
                j += 1
            }
            i += 4
        }
    }
}
