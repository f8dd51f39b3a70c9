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

    /// y = W·cols for one image: [Co, C·k·k]·[C·k·k, Ho·Wo]; with `rows`, only those output channels (W's rows)
    /// into y.
    @inline(__always)
    func productOfImage(_ w: UnsafePointer<Float>, _ cols: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        rows: Range<Int>? = nil) {
        let r = rows ?? 0..<outChannels
        Kernels.gemm(transA: false, transB: false, m: r.count, n: outPlane, k: patch, w + r.lowerBound * patch, lda: patch,
                     cols, ldb: outPlane, y, ldc: outPlane)
    }

    /// out = dy·colsᵀ for one image ([Co, Ho·Wo]·[Ho·Wo, C·k·k]) when `first`, else out += that; with `rows`, dy
    /// holds those output channels only and goes to their rows of out.
    @inline(__always)
    func weightProductOfImage(_ dy: UnsafePointer<Float>, _ cols: UnsafePointer<Float>, first: Bool,
                              _ out: UnsafeMutablePointer<Float>, rows: Range<Int>? = nil) {
        let r = rows ?? 0..<outChannels
        Kernels.gemm(transA: false, transB: true, m: r.count, n: patch, k: outPlane, dy, lda: outPlane, cols,
                     ldb: outPlane, beta: first ? 0 : 1, out + r.lowerBound * patch, ldc: patch)
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

    /// Whether an image's channel parts are taken by a product each (with their rows of W) rather than copied
    /// into one [Co, Ho·Wo] block for one product: a product per part makes another pass over the image's patch
    /// matrix (C·k·k rows), the copy a pass over the image (Co rows), so the smaller decides.
    func productPerPart(_ y: ChannelParts) -> Bool { y.parts.count == 1 || patch <= outChannels }

    /// Calls `body` with a buffer for one image of the output side, [Co, Ho·Wo], when the channel parts are to be
    /// copied together (`productPerPart` false), else with nil.
    @inline(__always)
    func withImageBlock(for y: ChannelParts, _ body: (UnsafeMutablePointer<Float>?) -> Void) {
        if productPerPart(y) { return body(nil) }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: outImage)
        defer { buffer.deallocate() }
        body(buffer)
    }

    /// out[b] = col2im(Wᵀ·y[b]) for each image (each image's block zeroed just before, while it is in cache), y
    /// given as channel parts (see `ChannelParts`).
    func adjointByImage(_ y: ChannelParts, _ w: UnsafePointer<Float>, batch n: Int, _ out: UnsafeMutablePointer<Float>) {
        withImagePatches { cols in
            withImageBlock(for: y) { block in
                for b in 0..<n { adjointOfImage(y, image: b, w, cols, block, out + b * inImage) }
            }
        }
    }

    /// out = col2im(Wᵀ·y) for image b, through the patch buffer cols: one product per part of y, each with its
    /// rows of W, added into cols; or, given a block buffer, the parts copied into it and one product.
    @inline(__always)
    func adjointOfImage(_ y: ChannelParts, image b: Int, _ w: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>,
                        _ block: UnsafeMutablePointer<Float>?, _ out: UnsafeMutablePointer<Float>) {
        if let block {
            y.gather(image: b, plane: outPlane, into: block)
            Kernels.gemm(transA: true, transB: false, m: patch, n: outPlane, k: outChannels, w, lda: patch, block,
                         ldb: outPlane, cols, ldc: outPlane)
        } else {
            for (k, part) in y.parts.enumerated() {
                Kernels.gemm(transA: true, transB: false, m: patch, n: outPlane, k: part.rows.count,
                             w + part.rows.lowerBound * patch, lda: patch, part.pointer + b * part.rows.count * outPlane,
                             ldb: outPlane, beta: k == 0 ? 0 : 1, cols, ldc: outPlane)
            }
        }
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
        return y.scalars.withUnsafeBufferPointer { channelMajor(ChannelParts(whole: $0.baseAddress!, outChannels), batch: n) }
    }

    /// The same of a batch given as channel parts: each part's transposed copy in its rows.
    func channelMajor(_ y: ChannelParts, batch n: Int) -> [Float] {
        let count = outChannels * n * outPlane
        return [Float](unsafeUninitializedCapacity: count) { buf, c in
            for part in y.parts {
                swapOuterAxes(part.pointer, n, part.rows.count, outPlane, buf.baseAddress! + part.rows.lowerBound * n * outPlane)
            }
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
        productChannelMajor(patches: cols, w, batch: n).withUnsafeBufferPointer {
            swapOuterAxes($0.baseAddress!, outChannels, n, outPlane, y)
        }
    }

    /// The product [Co, C·k·k]·[C·k·k, N·Ho·Wo] from the batch's patch matrix, as it comes: channel-major.
    func productChannelMajor(patches cols: [Float], _ w: UnsafePointer<Float>, batch n: Int) -> [Float] {
        let nl = n * outPlane
        return [Float](unsafeUninitializedCapacity: outChannels * nl) { pt, c in
            cols.withUnsafeBufferPointer {
                Kernels.gemm(transA: false, transB: false, m: outChannels, n: nl, k: patch, w, $0.baseAddress!, pt.baseAddress!)
            }
            c = outChannels * nl
        }
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

/// An output-shaped batch [N, Co, Ho, Wo] given as consecutive parts along its channels, [N, c, Ho, Wo] each
/// (a concatenation that the transposed convolution takes without forming it): each part's storage and its
/// range of the Co channels.
struct ChannelParts {
    var parts: [(pointer: UnsafePointer<Float>, rows: Range<Int>)]

    init(whole y: UnsafePointer<Float>, _ channels: Int) { parts = [(y, 0..<channels)] }

    init(_ pointers: [UnsafePointer<Float>], channels: [Int]) {
        var start = 0
        parts = zip(pointers, channels).map { p, c in
            defer { start += c }
            return (p, start..<(start + c))
        }
    }

    /// Image b of every part, one after another: the image of the concatenation, [Co, plane].
    func gather(image b: Int, plane: Int, into block: UnsafeMutablePointer<Float>) {
        for part in parts {
            let count = part.rows.count * plane
            (block + part.rows.lowerBound * plane).update(from: part.pointer + b * count, count: count)
        }
    }
}

/// Calls `body` with the storage of each tensor.
func withScalarPointers<R>(_ ts: ArraySlice<Tensor>, _ done: [UnsafePointer<Float>] = [],
                           _ body: ([UnsafePointer<Float>]) -> R) -> R {
    guard let first = ts.first else { return body(done) }
    return first.scalars.withUnsafeBufferPointer { withScalarPointers(ts.dropFirst(), done + [$0.baseAddress!], body) }
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
        convAdjointKeepingInput(parts: [y], w, g)
    }

    /// convAdjoint of the channel concatenation of `parts` ([N, c, Ho, Wo] each, c > 0, the c adding up to the
    /// geometry's output channels) without forming it. Image by image, either each part is multiplied by its own
    /// rows of w and the products added into the image's patch buffer, or the parts' image is copied into one
    /// block for one product, whichever moves less (`productPerPart`); as a batch, each part is transposed into
    /// its rows of the channel-major copy.
    public static func convAdjointKeepingInput(parts: [Tensor], _ w: Tensor, _ g: ConvGeometry) -> (Tensor, [Float]?) {
        let n = parts[0].shape[0]
        precondition(parts.allSatisfy { $0.rank == 4 && $0.shape[0] == n && Array($0.shape[2...]) == [g.outH, g.outW] }
                     && parts.allSatisfy { $0.shape[1] > 0 } && parts.reduce(0) { $0 + $1.shape[1] } == g.outChannels,
                     "transposed conv input \(parts.map(\.shape)), geometry expects \(g.outputShape(n))")
        precondition(w.shape == g.weightShape, "conv weight \(w.shape), geometry expects \(g.weightShape)")
        let channels = parts.map { $0.shape[1] }
        return withScalarPointers(parts[...]) { pointers in
            let y = ChannelParts(pointers, channels: channels)
            let ycm = g.byImage(n) ? nil : g.channelMajor(y, batch: n)
            // Image by image each block is zeroed before its col2im; as a batch, here.
            var out = ycm == nil ? Tensor.unfilled(g.inputShape(n)) : Tensor.zeros(g.inputShape(n))
            w.scalars.withUnsafeBufferPointer { pw in
                out.scalars.withUnsafeMutableBufferPointer { po in
                    if let ycm { g.adjoint(channelMajor: ycm, pw.baseAddress!, batch: n, po.baseAddress!) }
                    else { g.adjointByImage(y, pw.baseAddress!, batch: n, po.baseAddress!) }
                }
            }
            return (out, ycm)
        }
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
                let whole = ChannelParts(whole: dy, g.outChannels)
                g.withImagePatches { cols in
                    for b in 0..<n {
                        if wantX {
                            dx!.scalars.withUnsafeMutableBufferPointer {
                                g.adjointOfImage(whole, image: b, w, cols, nil,
                                                 $0.baseAddress! + b * g.inImage)
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
        let d = convAdjointGradients(parts: [y], w: w, dx: dx, g, channelMajor: channelMajor, wantY: wantY, wantW: wantW)
        return (d.parts?[0], d.w)
    }

    /// The same for y given as channel parts (`convAdjointKeepingInput(parts:…)`): each part's gradient is its
    /// rows of conv(dx, w) and the weight gradient's rows come from each part. Image by image, either a product
    /// per part with its rows of w, or (`productPerPart` false) one product copied out to the parts and the
    /// parts' image copied together for the weight's product; as a batch, each part's rows transposed out of
    /// the batch's product.
    public static func convAdjointGradients(parts: [Tensor], w: Tensor, dx: Tensor, _ g: ConvGeometry, channelMajor: [Float]?,
                                     wantY: Bool, wantW: Bool) -> (parts: [Tensor]?, w: Tensor?) {
        let n = dx.shape[0], dxTensor = dx
        let channels = parts.map { $0.shape[1] }
        // Written whole below (image by image here; as a batch, made from the product).
        var dys = wantY && g.byImage(n) ? parts.map { Tensor.unfilled($0.shape) } : nil
        var dw = wantW ? Tensor.unfilled(g.weightShape) : nil
        withScalarPointers(parts[...]) { pointers in
            let y = ChannelParts(pointers, channels: channels)
            w.scalars.withUnsafeBufferPointer { pw in
            dx.scalars.withUnsafeBufferPointer { pd in
                let w = pw.baseAddress!, dx = pd.baseAddress!
                if g.byImage(n) {
                    g.withImagePatches { cols in g.withImageBlock(for: y) { block in
                        for b in 0..<n {
                            g.im2col(dx + b * g.inImage, batch: 1, cols)
                            if let block {
                                // One product for all the parts' rows, copied out to each part; the parts' image
                                // copied together for the weight's product.
                                if wantY {
                                    g.productOfImage(w, cols, block)
                                    for (k, part) in y.parts.enumerated() {
                                        dys![k].scalars.withUnsafeMutableBufferPointer {
                                            ($0.baseAddress! + b * part.rows.count * g.outPlane)
                                                .update(from: block + part.rows.lowerBound * g.outPlane,
                                                        count: part.rows.count * g.outPlane)
                                        }
                                    }
                                }
                                if wantW {
                                    y.gather(image: b, plane: g.outPlane, into: block)
                                    dw!.scalars.withUnsafeMutableBufferPointer {
                                        g.weightProductOfImage(block, cols, first: b == 0, $0.baseAddress!)
                                    }
                                }
                                continue
                            }
                            for (k, part) in y.parts.enumerated() {
                                let offset = b * part.rows.count * g.outPlane
                                if wantY {
                                    dys![k].scalars.withUnsafeMutableBufferPointer {
                                        g.productOfImage(w, cols, $0.baseAddress! + offset, rows: part.rows)
                                    }
                                }
                                if wantW {
                                    dw!.scalars.withUnsafeMutableBufferPointer {
                                        g.weightProductOfImage(part.pointer + offset, cols, first: b == 0, $0.baseAddress!,
                                                               rows: part.rows)
                                    }
                                }
                            }
                        }
                    } }
                } else {
                    let cols = g.patches(dxTensor)
                    if wantY {
                        // Each part's rows of the channel-major product, transposed into its own [N, c, Ho, Wo].
                        let product = g.productChannelMajor(patches: cols, w, batch: n)
                        dys = y.parts.map { part in
                            Tensor(shape: [n, part.rows.count, g.outH, g.outW]) { out, _ in
                                product.withUnsafeBufferPointer {
                                    swapOuterAxes($0.baseAddress! + part.rows.lowerBound * n * g.outPlane, part.rows.count,
                                                  n, g.outPlane, out)
                                }
                            }
                        }
                    }
                    if wantW {
                        let ycm = channelMajor ?? g.channelMajor(y, batch: n)
                        dw!.scalars.withUnsafeMutableBufferPointer { g.weightGradient(channelMajor: ycm, patches: cols, batch: n, $0.baseAddress!) }
                    }
                }
            }}
        }
        return (dys, dw)
    }
}
