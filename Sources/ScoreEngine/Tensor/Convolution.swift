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
    /// Output planes of at least this many entries are taken image by image: one image's patch matrix, in a
    /// buffer that stays in cache, and one product into its block of the NCHW batch as it lies. Smaller planes
    /// (where a product per image would be too thin) are taken as a batch: the whole batch's patch matrix,
    /// a channel-major copy of the output side, and one product.
    static let planePerProduct = 64

    /// Whether a batch of n is taken image by image (an empty batch is taken as a batch, whose products of
    /// nothing write zeros).
    func byImage(_ n: Int) -> Bool { n == 1 || (n > 1 && outPlane >= ConvGeometry.planePerProduct) }

    var inImage: Int { inChannels * inPlane }
    var outImage: Int { outChannels * outPlane }

    /// Calls `body` with a buffer for one image's patch matrix [C·k·k, Ho·Wo].
    @inline(__always)
    func withImagePatches(_ body: (UnsafeMutablePointer<Float>) -> Void) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: patch * outPlane)
        defer { buffer.deallocate() }
        body(buffer)
    }

    // MARK: image by image

    /// y = W·cols for one image: [Co, C·k·k]·[C·k·k, Ho·Wo].
    @inline(__always)
    func productOfImage(_ w: UnsafePointer<Float>, _ cols: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        Kernels.gemm(transA: false, transB: false, m: outChannels, n: outPlane, k: patch, w, lda: patch, cols,
                     ldb: outPlane, y, ldc: outPlane)
    }

    /// out = dy·colsᵀ for one image ([Co, Ho·Wo]·[Ho·Wo, C·k·k]) when `first`, else out += that.
    @inline(__always)
    func weightProductOfImage(_ dy: UnsafePointer<Float>, _ cols: UnsafePointer<Float>, first: Bool,
                              _ out: UnsafeMutablePointer<Float>) {
        Kernels.gemm(transA: false, transB: true, m: outChannels, n: patch, k: outPlane, dy, lda: outPlane, cols,
                     ldb: outPlane, beta: first ? 0 : 1, out, ldc: patch)
    }

    /// y[b] = W·patches(x[b]) for each image.
    func convolveByImage(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, batch n: Int, _ y: UnsafeMutablePointer<Float>) {
        withImagePatches { cols in
            for b in 0..<n {
                im2col(x + b * inImage, batch: 1, cols)
                productOfImage(w, cols, y + b * outImage)
            }
        }
    }

    /// out[b] = col2im(Wᵀ·y[b]) for each image (each image's block zeroed just before, while it is in cache).
    func adjointByImage(_ y: UnsafePointer<Float>, _ w: UnsafePointer<Float>, batch n: Int, _ out: UnsafeMutablePointer<Float>) {
        withImagePatches { cols in
            for b in 0..<n { adjointOfImage(y + b * outImage, w, cols, out + b * inImage) }
        }
    }

    /// out = col2im(Wᵀ·y) for one image, through the patch buffer cols.
    @inline(__always)
    func adjointOfImage(_ y: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>,
                        _ out: UnsafeMutablePointer<Float>) {
        Kernels.gemm(transA: true, transB: false, m: patch, n: outPlane, k: outChannels, w, lda: patch, y, ldb: outPlane,
                     cols, ldc: outPlane)
        out.update(repeating: 0, count: inImage)
        col2im(cols, batch: 1, out)
    }

    /// Σ_b dy[b]·patches(x[b])ᵀ.
    func weightGradientByImage(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, batch n: Int,
                               _ out: UnsafeMutablePointer<Float>) {
        withImagePatches { cols in
            for b in 0..<n {
                im2col(x + b * inImage, batch: 1, cols)
                weightProductOfImage(dy + b * outImage, cols, first: b == 0, out)
            }
        }
    }

    // MARK: as a batch

    /// An output-shaped batch y [N, Co, Ho, Wo] as the batched products take it: [Co, N·Ho·Wo] (y's own storage
    /// when N = 1, else a transposed copy).
    func channelMajor(_ y: Tensor) -> [Float] {
        let n = y.shape[0]
        if n == 1 { return y.scalars }
        let count = outChannels * n * outPlane
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            y.scalars.withUnsafeBufferPointer { swapOuterAxes($0.baseAddress!, n, outChannels, outPlane, buf.baseAddress!) }
            c = count
        }
    }

    /// The patch matrix of an input-shaped batch x (`im2col`), [C·k·k, N·Ho·Wo].
    func patches(_ x: Tensor) -> [Float] {
        let n = x.shape[0], count = patch * n * outPlane
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            x.scalars.withUnsafeBufferPointer { im2col($0.baseAddress!, batch: n, buf.baseAddress!) }
            c = count
        }
    }

    /// conv from the batch's patch matrix: [Co, C·k·k]·[C·k·k, N·Ho·Wo], laid out as [N, Co, Ho, Wo].
    func convolved(patches cols: [Float], _ w: UnsafePointer<Float>, batch n: Int, _ y: UnsafeMutablePointer<Float>) {
        let nl = n * outPlane
        let tmp = [Float](unsafeUninitializedCapacity: outChannels * nl) { pt, c in
            cols.withUnsafeBufferPointer {
                Kernels.gemm(transA: false, transB: false, m: outChannels, n: nl, k: patch, w, $0.baseAddress!, pt.baseAddress!)
            }
            c = outChannels * nl
        }
        tmp.withUnsafeBufferPointer { swapOuterAxes($0.baseAddress!, outChannels, n, outPlane, y) }
    }

    /// convᵀ from the batch's channel-major matrix: [C·k·k, Co]·[Co, N·Ho·Wo], then col2im into out (zeroed).
    func adjoint(channelMajor ycm: [Float], _ w: UnsafePointer<Float>, batch n: Int, _ out: UnsafeMutablePointer<Float>) {
        let nl = n * outPlane
        let cols = [Float](unsafeUninitializedCapacity: patch * nl) { pc, c in
            ycm.withUnsafeBufferPointer {
                Kernels.gemm(transA: true, transB: false, m: patch, n: nl, k: outChannels, w, $0.baseAddress!, pc.baseAddress!)
            }
            c = patch * nl
        }
        cols.withUnsafeBufferPointer { col2im($0.baseAddress!, batch: n, out) }
    }

    /// ∂⟨conv(x, w), y⟩/∂w from the batch's channel-major y and patch matrix: [Co, N·Ho·Wo]·[N·Ho·Wo, C·k·k].
    func weightGradient(channelMajor ycm: [Float], patches cols: [Float], batch n: Int, _ out: UnsafeMutablePointer<Float>) {
        ycm.withUnsafeBufferPointer { py in
            cols.withUnsafeBufferPointer { pc in
                Kernels.gemm(transA: false, transB: true, m: outChannels, n: patch, k: n * outPlane, py.baseAddress!,
                             pc.baseAddress!, out)
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
    /// conv(x, w): x [N, C, H, W], w [Co, C, k, k] → [N, Co, Ho, Wo], as im2col and the product
    /// [Co, C·k·k]·[C·k·k, Ho·Wo] per image, or over the batch for small planes (`ConvGeometry.byImage`).
    public static func conv(_ x: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
        convKeepingPatches(x, w, g).0
    }

    /// conv(x, w), and the batch's patch matrix when it was made (small planes), which the weight gradient
    /// takes again.
    static func convKeepingPatches(_ x: Tensor, _ w: Tensor, _ g: ConvGeometry) -> (Tensor, [Float]?) {
        let n = x.shape[0]
        precondition(x.shape == g.inputShape(n), "conv input \(x.shape), geometry expects \(g.inputShape(n))")
        precondition(w.shape == g.weightShape, "conv weight \(w.shape), geometry expects \(g.weightShape)")
        let cols = g.byImage(n) ? nil : g.patches(x)
        let y = Tensor(shape: g.outputShape(n)) { y, _ in
            x.scalars.withUnsafeBufferPointer { px in
                w.scalars.withUnsafeBufferPointer { pw in
                    if let cols { g.convolved(patches: cols, pw.baseAddress!, batch: n, y) }
                    else { g.convolveByImage(px.baseAddress!, pw.baseAddress!, batch: n, y) }
                }
            }
        }
        return (y, cols)
    }

    /// convAdjoint(y, w) = convᵀ(w)·y: y [N, Co, Ho, Wo] → [N, C, H, W], as the product [C·k·k, Co]·[Co, Ho·Wo]
    /// and col2im per image, or over the batch for small planes.
    public static func convAdjoint(_ y: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
        convAdjointKeepingInput(y, w, g).0
    }

    /// convAdjoint(y, w), and y's channel-major copy when it was made (small planes), which the weight gradient
    /// takes again.
    static func convAdjointKeepingInput(_ y: Tensor, _ w: Tensor, _ g: ConvGeometry) -> (Tensor, [Float]?) {
        let n = y.shape[0]
        precondition(y.shape == g.outputShape(n), "transposed conv input \(y.shape), geometry expects \(g.outputShape(n))")
        precondition(w.shape == g.weightShape, "conv weight \(w.shape), geometry expects \(g.weightShape)")
        let ycm = g.byImage(n) ? nil : g.channelMajor(y)
        // Image by image each block is zeroed before its col2im; as a batch, here.
        var out = ycm == nil ? Tensor.unfilled(g.inputShape(n)) : Tensor.zeros(g.inputShape(n))
        y.scalars.withUnsafeBufferPointer { py in
            w.scalars.withUnsafeBufferPointer { pw in
                out.scalars.withUnsafeMutableBufferPointer { po in
                    if let ycm { g.adjoint(channelMajor: ycm, pw.baseAddress!, batch: n, po.baseAddress!) }
                    else { g.adjointByImage(py.baseAddress!, pw.baseAddress!, batch: n, po.baseAddress!) }
                }
            }
        }
        return (out, ycm)
    }

    /// convWeight(x, y) = ∂⟨conv(x, w), y⟩/∂w: x [N, C, H, W], y [N, Co, Ho, Wo] → [Co, C, k, k], as the product
    /// [Co, Ho·Wo]·[Ho·Wo, C·k·k] summed over the images, or one over the batch for small planes.
    public static func convWeight(_ x: Tensor, _ y: Tensor, _ g: ConvGeometry) -> Tensor {
        let n = x.shape[0]
        precondition(x.shape == g.inputShape(n) && y.shape == g.outputShape(n),
                     "conv weight gradient of \(x.shape) and \(y.shape) under \(g)")
        return Tensor(shape: g.weightShape) { out, _ in
            if g.byImage(n) {
                x.scalars.withUnsafeBufferPointer { px in
                    y.scalars.withUnsafeBufferPointer { g.weightGradientByImage(px.baseAddress!, $0.baseAddress!, batch: n, out) }
                }
            } else {
                g.weightGradient(channelMajor: g.channelMajor(y), patches: g.patches(x), batch: n, out)
            }
        }
    }

    /// The gradients of ⟨dy, conv(x, w)⟩ with respect to x and w, convAdjoint(dy, w) and convWeight(x, dy). Image
    /// by image each image's patch buffer serves both; as a batch they share dy's channel-major copy, and x's
    /// patch matrix is taken from the forward pass when it is given.
    static func convGradients(x: Tensor, w: Tensor, dy: Tensor, _ g: ConvGeometry, patches: [Float]?,
                              wantX: Bool, wantW: Bool) -> (x: Tensor?, w: Tensor?) {
        let n = dy.shape[0], xTensor = x, dyTensor = dy
        // Written whole below: image by image each block is zeroed before its col2im, as a batch here.
        var dx = wantX ? (g.byImage(n) ? Tensor.unfilled(g.inputShape(n)) : Tensor.zeros(g.inputShape(n))) : nil
        var dw = wantW ? Tensor.unfilled(g.weightShape) : nil
        x.scalars.withUnsafeBufferPointer { px in
        w.scalars.withUnsafeBufferPointer { pw in
        dy.scalars.withUnsafeBufferPointer { pd in
            let x = px.baseAddress!, w = pw.baseAddress!, dy = pd.baseAddress!
            if g.byImage(n) {
                g.withImagePatches { cols in
                    for b in 0..<n {
                        if wantX {
                            dx!.scalars.withUnsafeMutableBufferPointer {
                                g.adjointOfImage(dy + b * g.outImage, w, cols, $0.baseAddress! + b * g.inImage)
                            }
                        }
                        if wantW {
                            g.im2col(x + b * g.inImage, batch: 1, cols)
                            dw!.scalars.withUnsafeMutableBufferPointer {
                                g.weightProductOfImage(dy + b * g.outImage, cols, first: b == 0, $0.baseAddress!)
                            }
                        }
                    }
                }
            } else {
                let ycm = g.channelMajor(dyTensor)
                if wantX { dx!.scalars.withUnsafeMutableBufferPointer { g.adjoint(channelMajor: ycm, w, batch: n, $0.baseAddress!) } }
                if wantW {
                    let cols = patches ?? g.patches(xTensor)
                    dw!.scalars.withUnsafeMutableBufferPointer { g.weightGradient(channelMajor: ycm, patches: cols, batch: n, $0.baseAddress!) }
                }
            }
        }}}
        return (dx, dw)
    }

    /// The gradients of ⟨dx, convAdjoint(y, w)⟩ with respect to y and w, conv(dx, w) and convWeight(dx, y), from
    /// one patch matrix of dx (an image's at a time, or the batch's); as a batch y's channel-major copy is taken
    /// from the forward pass when it is given.
    static func convAdjointGradients(y: Tensor, w: Tensor, dx: Tensor, _ g: ConvGeometry, channelMajor: [Float]?,
                                     wantY: Bool, wantW: Bool) -> (y: Tensor?, w: Tensor?) {
        let n = dx.shape[0], yTensor = y, dxTensor = dx
        var dy = wantY ? Tensor.unfilled(g.outputShape(n)) : nil
        var dw = wantW ? Tensor.unfilled(g.weightShape) : nil
        y.scalars.withUnsafeBufferPointer { py in
        w.scalars.withUnsafeBufferPointer { pw in
        dx.scalars.withUnsafeBufferPointer { pd in
            let y = py.baseAddress!, w = pw.baseAddress!, dx = pd.baseAddress!
            if g.byImage(n) {
                g.withImagePatches { cols in
                    for b in 0..<n {
                        g.im2col(dx + b * g.inImage, batch: 1, cols)
                        if wantY {
                            dy!.scalars.withUnsafeMutableBufferPointer { g.productOfImage(w, cols, $0.baseAddress! + b * g.outImage) }
                        }
                        if wantW {
                            dw!.scalars.withUnsafeMutableBufferPointer {
                                g.weightProductOfImage(y + b * g.outImage, cols, first: b == 0, $0.baseAddress!)
                            }
                        }
                    }
                }
            } else {
                let cols = g.patches(dxTensor)
                if wantY { dy!.scalars.withUnsafeMutableBufferPointer { g.convolved(patches: cols, w, batch: n, $0.baseAddress!) } }
                if wantW {
                    let ycm = channelMajor ?? g.channelMajor(yTensor)
                    dw!.scalars.withUnsafeMutableBufferPointer { g.weightGradient(channelMajor: ycm, patches: cols, batch: n, $0.baseAddress!) }
                }
            }
        }}}
        return (dy, dw)
    }
}
