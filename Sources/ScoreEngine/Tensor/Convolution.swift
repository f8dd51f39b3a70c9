import CSIMD

/// The geometry of a 2-D convolution over NCHW tensors: PyTorch's `Conv2d` (a cross-correlation) from
/// `inChannels` planes of inH×inW to `outChannels` planes of outH×outW, with a square kernel, one stride and
/// one zero padding for both axes.
///
/// Three bilinear maps share a geometry, and each one's vector–Jacobian products are the other two, so the
/// family is closed under differentiation (see `Op.conv`):
/// - `conv(x, w)`: x [N, C, H, W], w [Co, C, k, k] → [N, Co, Ho, Wo];
/// - `convAdjoint(y, w)`: the transpose of x ↦ conv(x, w), [N, Co, Ho, Wo] → [N, C, H, W] (this is PyTorch's
///   `ConvTranspose2d` with weight layout [in, out, k, k] = [Co, C, k, k]);
/// - `convWeight(x, y)`: ∂⟨conv(x, w), y⟩/∂w, → [Co, C, k, k].
public struct ConvGeometry: Hashable, Sendable {
    public let inChannels: Int, outChannels: Int
    public let kernel: Int, stride: Int, padding: Int
    public let inH: Int, inW: Int
    public let outH: Int, outW: Int

    /// A convolution of an inH×inW input; the output size is ⌊(in + 2·padding − kernel)/stride⌋ + 1.
    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, inH: Int, inW: Int) {
        precondition(inChannels > 0 && outChannels > 0 && kernel > 0 && stride > 0 && padding >= 0)
        precondition(inH + 2 * padding >= kernel && inW + 2 * padding >= kernel,
                     "a \(kernel)×\(kernel) kernel does not fit a \(inH)×\(inW) input with padding \(padding)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.inH = inH
        self.inW = inW
        outH = (inH + 2 * padding - kernel) / stride + 1
        outW = (inW + 2 * padding - kernel) / stride + 1
    }

    /// The geometry whose adjoint is PyTorch's `ConvTranspose2d(inChannels → outChannels)` on an inH×inW input:
    /// the transposed convolution's output, (in − 1)·stride − 2·padding + kernel + outputPadding, is the
    /// convolution's input.
    public static func transposed(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                                  outputPadding: Int = 0, inH: Int, inW: Int) -> ConvGeometry {
        precondition(outputPadding >= 0 && (outputPadding < stride || outputPadding == 0),
                     "output padding must be smaller than the stride")
        let h = (inH - 1) * stride - 2 * padding + kernel + outputPadding
        let w = (inW - 1) * stride - 2 * padding + kernel + outputPadding
        let g = ConvGeometry(inChannels: outChannels, outChannels: inChannels, kernel: kernel, stride: stride,
                             padding: padding, inH: h, inW: w)
        precondition(g.outH == inH && g.outW == inW)
        return g
    }

    /// Rows of the patch matrix: C·k·k.
    var patch: Int { inChannels * kernel * kernel }
    var inPlane: Int { inH * inW }
    var outPlane: Int { outH * outW }
    public var weightShape: [Int] { [outChannels, inChannels, kernel, kernel] }
    func inputShape(_ n: Int) -> [Int] { [n, inChannels, inH, inW] }
    func outputShape(_ n: Int) -> [Int] { [n, outChannels, outH, outW] }

    /// The fields the C loops take.
    var c: score_conv_geometry {
        score_conv_geometry(in_channels: inChannels, in_h: inH, in_w: inW, out_h: outH, out_w: outW, kernel: kernel,
                            stride: stride, padding: padding)
    }

    /// Patch matrix: cols[(c, i, j), (b, oy, ox)] = x[b, c, oy·s − p + i, ox·s − p + j] (0 outside), shape
    /// [C·k·k, N·Ho·Wo] (`score_im2col`).
    func im2col(_ x: UnsafePointer<Float>, batch n: Int, _ cols: UnsafeMutablePointer<Float>) {
        var g = c
        score_im2col(&g, n, x, cols)
    }

    /// The adjoint of `im2col`: adds every patch entry back into its input position (x must start zeroed).
    func col2im(_ cols: UnsafePointer<Float>, batch n: Int, _ x: UnsafeMutablePointer<Float>) {
        var g = c
        score_col2im(&g, n, cols, x)
    }
}

extension ConvGeometry {
    /// Output planes of at least this many entries are multiplied image by image, each image's [Co, Ho·Wo]
    /// block as it lies in the NCHW batch; smaller ones (where a product per image would be too thin) through
    /// one channel-major copy of the batch and one product.
    static let planePerProduct = 64

    /// Whether the products take an output-shaped batch of n images image by image.
    func byImage(_ n: Int) -> Bool { n > 1 && outPlane >= ConvGeometry.planePerProduct }

    /// An output-shaped batch y [N, Co, Ho, Wo] as the products take it: y's own storage when they go image by
    /// image (or N = 1), else the transposed copy [Co, N·Ho·Wo].
    func operand(_ y: Tensor) -> [Float] {
        let n = y.shape[0]
        if n == 1 || byImage(n) { return y.scalars }
        let count = outChannels * n * outPlane
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            y.scalars.withUnsafeBufferPointer { swapOuterAxes($0.baseAddress!, n, outChannels, outPlane, buf.baseAddress!) }
            c = count
        }
    }

    /// The patch matrix of an input-shaped batch x (`im2col`).
    func patches(_ x: Tensor) -> [Float] {
        let n = x.shape[0], count = patch * n * outPlane
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            x.scalars.withUnsafeBufferPointer { im2col($0.baseAddress!, batch: n, buf.baseAddress!) }
            c = count
        }
    }

    /// conv from x's patch matrix: the product [Co, C·k·k]·[C·k·k, N·Ho·Wo], laid out as [N, Co, Ho, Wo].
    func convolved(patches cols: [Float], _ w: Tensor, batch n: Int) -> Tensor {
        let nl = n * outPlane
        return Tensor(shape: outputShape(n)) { y, _ in
            w.scalars.withUnsafeBufferPointer { pw in
                cols.withUnsafeBufferPointer { pc in
                    if n == 1 {
                        Kernels.gemm(transA: false, transB: false, m: outChannels, n: nl, k: patch, pw.baseAddress!, pc.baseAddress!, y)
                    } else if byImage(n) {
                        for b in 0..<n {
                            Kernels.gemm(transA: false, transB: false, m: outChannels, n: outPlane, k: patch,
                                         pw.baseAddress!, lda: patch, pc.baseAddress! + b * outPlane, ldb: nl,
                                         y + b * outChannels * outPlane, ldc: outPlane)
                        }
                    } else {
                        let tmp = [Float](unsafeUninitializedCapacity: outChannels * nl) { pt, c in
                            Kernels.gemm(transA: false, transB: false, m: outChannels, n: nl, k: patch,
                                         pw.baseAddress!, pc.baseAddress!, pt.baseAddress!)
                            c = outChannels * nl
                        }
                        tmp.withUnsafeBufferPointer { swapOuterAxes($0.baseAddress!, outChannels, n, outPlane, y) }
                    }
                }
            }
        }
    }

    /// convᵀ from y's `operand`: the product [C·k·k, Co]·[Co, N·Ho·Wo], then col2im into [N, C, H, W].
    func adjoint(operand ym: [Float], _ w: Tensor, batch n: Int) -> Tensor {
        let nl = n * outPlane
        var out = Tensor.zeros(inputShape(n))
        let cols = [Float](unsafeUninitializedCapacity: patch * nl) { pc, c in
            w.scalars.withUnsafeBufferPointer { pw in
                ym.withUnsafeBufferPointer { py in
                    if byImage(n) {
                        for b in 0..<n {
                            Kernels.gemm(transA: true, transB: false, m: patch, n: outPlane, k: outChannels, pw.baseAddress!,
                                         lda: patch, py.baseAddress! + b * outChannels * outPlane, ldb: outPlane,
                                         pc.baseAddress! + b * outPlane, ldc: nl)
                        }
                    } else {
                        Kernels.gemm(transA: true, transB: false, m: patch, n: nl, k: outChannels, pw.baseAddress!,
                                     py.baseAddress!, pc.baseAddress!)
                    }
                }
            }
            c = patch * nl
        }
        cols.withUnsafeBufferPointer { pc in
            out.scalars.withUnsafeMutableBufferPointer { col2im(pc.baseAddress!, batch: n, $0.baseAddress!) }
        }
        return out
    }

    /// ∂⟨conv(x, w), y⟩/∂w from y's `operand` and x's patch matrix: [Co, N·Ho·Wo]·[N·Ho·Wo, C·k·k].
    func weightGradient(operand ym: [Float], patches cols: [Float], batch n: Int) -> Tensor {
        let nl = n * outPlane
        return Tensor(shape: weightShape) { out, _ in
            ym.withUnsafeBufferPointer { py in
                cols.withUnsafeBufferPointer { pc in
                    if byImage(n) {
                        for b in 0..<n {
                            Kernels.gemm(transA: false, transB: true, m: outChannels, n: patch, k: outPlane,
                                         py.baseAddress! + b * outChannels * outPlane, lda: outPlane,
                                         pc.baseAddress! + b * outPlane, ldb: nl, beta: b == 0 ? 0 : 1, out, ldc: patch)
                        }
                    } else {
                        Kernels.gemm(transA: false, transB: true, m: outChannels, n: patch, k: nl, py.baseAddress!,
                                     pc.baseAddress!, out)
                    }
                }
            }
        }
    }
}

/// [A, B, L] → [B, A, L] (swaps the two outer axes of blocks of L).
@inline(__always)
func swapOuterAxes(_ src: UnsafePointer<Float>, _ a: Int, _ b: Int, _ l: Int, _ dst: UnsafeMutablePointer<Float>) {
    for i in 0..<a {
        for j in 0..<b { (dst + (j * a + i) * l).update(from: src + (i * b + j) * l, count: l) }
    }
}

extension Tensor {
    /// conv(x, w): x [N, C, H, W], w [Co, C, k, k] → [N, Co, Ho, Wo], as im2col and one product
    /// [Co, C·k·k]·[C·k·k, N·Ho·Wo].
    public static func conv(_ x: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
        convKeepingPatches(x, w, g).0
    }

    /// conv(x, w) and x's patch matrix (which the weight gradient takes again).
    static func convKeepingPatches(_ x: Tensor, _ w: Tensor, _ g: ConvGeometry) -> (Tensor, [Float]) {
        let n = x.shape[0]
        precondition(x.shape == g.inputShape(n), "conv input \(x.shape), geometry expects \(g.inputShape(n))")
        precondition(w.shape == g.weightShape, "conv weight \(w.shape), geometry expects \(g.weightShape)")
        let cols = g.patches(x)
        return (g.convolved(patches: cols, w, batch: n), cols)
    }

    /// convAdjoint(y, w) = convᵀ(w)·y: y [N, Co, Ho, Wo] → [N, C, H, W], as one product
    /// [C·k·k, Co]·[Co, N·Ho·Wo] and col2im.
    public static func convAdjoint(_ y: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
        convAdjointKeepingInput(y, w, g).0
    }

    /// convAdjoint(y, w) and y as the products take it (`ConvGeometry.operand`), which the weight gradient takes again.
    static func convAdjointKeepingInput(_ y: Tensor, _ w: Tensor, _ g: ConvGeometry) -> (Tensor, [Float]) {
        let n = y.shape[0]
        precondition(y.shape == g.outputShape(n), "transposed conv input \(y.shape), geometry expects \(g.outputShape(n))")
        precondition(w.shape == g.weightShape, "conv weight \(w.shape), geometry expects \(g.weightShape)")
        let ym = g.operand(y)
        return (g.adjoint(operand: ym, w, batch: n), ym)
    }

    /// convWeight(x, y) = ∂⟨conv(x, w), y⟩/∂w: x [N, C, H, W], y [N, Co, Ho, Wo] → [Co, C, k, k], as one product
    /// [Co, N·Ho·Wo]·[N·Ho·Wo, C·k·k].
    public static func convWeight(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry) -> Tensor {
        let n = x.shape[0]
        precondition(x.shape == g.inputShape(n) && y.shape == g.outputShape(n),
                     "conv weight gradient of \(x.shape) and \(y.shape) under \(g)")
        return g.weightGradient(operand: g.operand(y), patches: g.patches(x), batch: n)
    }

    /// The gradients of ⟨dy, conv(x, w)⟩ with respect to x and w, convAdjoint(dy, w) and convWeight(x, dy),
    /// sharing dy's operand (`ConvGeometry.operand`); x's patch matrix is taken from the forward pass when it
    /// is given.
    static func convGradients(x: Tensor, w: Tensor, dy: Tensor, _ g: ConvGeometry, patches: [Float]?,
                              wantX: Bool, wantW: Bool) -> (x: Tensor?, w: Tensor?) {
        let n = dy.shape[0], ym = g.operand(dy)
        return (wantX ? g.adjoint(operand: ym, w, batch: n) : nil,
                wantW ? g.weightGradient(operand: ym, patches: patches ?? g.patches(x), batch: n) : nil)
    }

    /// The gradients of ⟨dx, convAdjoint(y, w)⟩ with respect to y and w, conv(dx, w) and convWeight(dx, y),
    /// sharing dx's patch matrix; y's operand (`ConvGeometry.operand`) is taken from the forward pass when it
    /// is given.
    static func convAdjointGradients(y: Tensor, w: Tensor, dx: Tensor, _ g: ConvGeometry, operand: [Float]?,
                                     wantY: Bool, wantW: Bool) -> (y: Tensor?, w: Tensor?) {
        let n = dx.shape[0], cols = g.patches(dx)
        return (wantY ? g.convolved(patches: cols, w, batch: n) : nil,
                wantW ? g.weightGradient(operand: operand ?? g.operand(y), patches: cols, batch: n) : nil)
    }
}
