import CBLAS

/// Low-level loops over contiguous float buffers, and matrix products through CBLAS (OpenBLAS).
public enum Kernels {
    /// Σ x[i], accumulated in eight lanes.
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>.zero
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Σ x[i]·y[i].
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>.zero
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i] * y[i]; i += 1 }
        return s
    }

    /// y ← a·x + y.
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] += a * x[i] }
    }

    /// C[m×n] = α·op(A)·op(B) + β·C with row-major operands; op transposes when asked.
    /// A is m×k (k×m if transposed), B is k×n (n×k if transposed). Small products go to `SmallGEMM`,
    /// the rest to OpenBLAS. With `bias` (n entries, only with α = 1 and β = 0), C = op(A)·op(B) + 1·biasᵀ.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                            beta: Float = 0, _ c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil) {
        if m == 0 || n == 0 { return }
        if alpha == 1, beta == 0, k > 0, SmallGEMM.applies(m: m, n: n, k: k) {
            SmallGEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a, b, c, bias: bias)
            return
        }
        var beta = beta
        if let bias {
            precondition(alpha == 1 && beta == 0, "a bias is added to op(A)·op(B) alone")
            for i in 0..<m { (c + i &* n).update(from: bias, count: n) }
            beta = 1
        }
        if k == 0 {
            if beta == 0 { c.update(repeating: 0, count: m * n) } else { for i in 0..<(m * n) { c[i] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                    beta, c, Int32(n))
    }

    /// C = op(A)·op(B) + β·C through OpenBLAS with explicit leading dimensions (row-major), for products on
    /// blocks of larger matrices.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                            _ b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product always through OpenBLAS (the reference for `SmallGEMM`'s tests).
    public static func blasGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(transA ? m : k), b, Int32(transB ? k : n), 0, c, Int32(n))
    }

    /// Sets the number of threads OpenBLAS may use for one product.
    public static func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}

extension Tensor {
    /// Matrix product of rank-2 tensors, optionally transposing either: op(a)·op(b), plus `bias` (a vector
    /// of op(b)'s width) added to every row when given.
    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false,
                              bias: Tensor? = nil) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
        let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
        let kb = transB ? b.shape[1] : b.shape[0], n = transB ? b.shape[0] : b.shape[1]
        precondition(k == kb, "matmul inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") · \(b.shape)\(transB ? "ᵀ" : "")")
        precondition(bias.map { $0.shape == [n] } ?? true, "bias of shape \(bias?.shape ?? []) for \(n) columns")
        return Tensor(shape: [m, n]) { c, _ in
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    if let bias {
                        bias.scalars.withUnsafeBufferPointer { pz in
                            Kernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, pa.baseAddress!, pb.baseAddress!,
                                         c, bias: pz.baseAddress!)
                        }
                    } else {
                        Kernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, pa.baseAddress!, pb.baseAddress!, c)
                    }
                }
            }
        }
    }

    /// f⁽ᵒʳᵈᵉʳ⁾ applied to every element.
    public func map(_ f: Pointwise, order: Int = 0) -> Tensor {
        Tensor(shape: shape) { y, n in
            scalars.withUnsafeBufferPointer { f.apply(order: order, $0.baseAddress!, y, n) }
        }
    }

    /// Multiplies every element by `c`.
    public func scaled(by c: Float) -> Tensor {
        Tensor(shape: shape) { y, n in scalars.withUnsafeBufferPointer { x in for i in 0..<n { y[i] = x[i] * c } } }
    }

    /// Adds `c` to every element.
    public func shifted(by c: Float) -> Tensor {
        Tensor(shape: shape) { y, n in scalars.withUnsafeBufferPointer { x in for i in 0..<n { y[i] = x[i] + c } } }
    }

    /// Sum of all elements.
    public func sum() -> Float { scalars.withUnsafeBufferPointer { Kernels.sum($0.baseAddress!, count) } }

    /// Mean of all elements.
    public func mean() -> Float { sum() / Float(Swift.max(count, 1)) }

    /// Transpose of a matrix.
    public func transposed() -> Tensor {
        precondition(rank == 2)
        let r = shape[0], c = shape[1]
        return Tensor(shape: [c, r]) { y, _ in
            scalars.withUnsafeBufferPointer { x in
                if let p = x.baseAddress { SmallGEMM.transpose(p, rows: r, columns: c, into: y) }
            }
        }
    }

    /// Elementwise operators with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { binary(.sub, a, b) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { binary(.mul, a, b) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { binary(.div, a, b) }
    public static func * (a: Tensor, c: Float) -> Tensor { a.scaled(by: c) }
    public static func * (c: Float, a: Tensor) -> Tensor { a.scaled(by: c) }
    public static func + (a: Tensor, c: Float) -> Tensor { a.shifted(by: c) }
    public static func - (a: Tensor, c: Float) -> Tensor { a.shifted(by: -c) }
    public static prefix func - (a: Tensor) -> Tensor { a.scaled(by: -1) }

    /// In-place y ← y + a·x for tensors of the same shape.
    public mutating func addScaled(_ x: Tensor, _ a: Float) {
        precondition(x.shape == shape, "shapes \(x.shape) and \(shape) differ")
        let n = count
        scalars.withUnsafeMutableBufferPointer { y in
            x.scalars.withUnsafeBufferPointer { Kernels.axpy(a, $0.baseAddress!, y.baseAddress!, n) }
        }
    }

    /// Sum of squares of all elements.
    public var squaredNorm: Float { scalars.withUnsafeBufferPointer { Kernels.dot($0.baseAddress!, $0.baseAddress!, count) } }
}
