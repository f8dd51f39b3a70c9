/// The differentiable operations: each computes its value with the tensor kernels and records itself.
extension Var {
    @inline(__always) func same(_ other: Var) {
        precondition(tape === other.tape, "variables from different tapes")
    }

    public static func + (a: Var, b: Var) -> Var {
        a.same(b)
        return a.tape.record(.binary(.add, a.value, b.value), .binary(.add, a.id, b.id), a.id, b.id)
    }
    public static func - (a: Var, b: Var) -> Var {
        a.same(b)
        return a.tape.record(.binary(.sub, a.value, b.value), .binary(.sub, a.id, b.id), a.id, b.id)
    }
    public static func * (a: Var, b: Var) -> Var {
        a.same(b)
        return a.tape.record(.binary(.mul, a.value, b.value), .binary(.mul, a.id, b.id), a.id, b.id)
    }
    public static func / (a: Var, b: Var) -> Var {
        a.same(b)
        return a.tape.record(.binary(.div, a.value, b.value), .binary(.div, a.id, b.id), a.id, b.id)
    }
    public static func * (a: Var, c: Float) -> Var { a.tape.record(a.value.scaled(by: c), .scale(a.id, c), a.id) }
    public static func * (c: Float, a: Var) -> Var { a * c }
    public static func / (a: Var, c: Float) -> Var { a * (1 / c) }
    public static func + (a: Var, c: Float) -> Var { a.tape.record(a.value.shifted(by: c), .shift(a.id), a.id) }
    public static func + (c: Float, a: Var) -> Var { a + c }
    public static func - (a: Var, c: Float) -> Var { a + (-c) }
    public static func - (c: Float, a: Var) -> Var { (-a) + c }
    public static prefix func - (a: Var) -> Var { a * -1 }

    /// Adds or multiplies by a constant tensor (broadcasting).
    public static func + (a: Var, b: Tensor) -> Var { a + a.tape.constant(b) }
    public static func - (a: Var, b: Tensor) -> Var { a - a.tape.constant(b) }
    public static func * (a: Var, b: Tensor) -> Var { a * a.tape.constant(b) }
    public static func / (a: Var, b: Tensor) -> Var { a / a.tape.constant(b) }

    /// f⁽ᵒʳᵈᵉʳ⁾ elementwise.
    public func apply(_ f: Pointwise, order: Int = 0) -> Var {
        tape.pointwise(id, f, order: order)
    }

    public func squared() -> Var { apply(.square) }
    public func exp() -> Var { apply(.exp) }
    public func log() -> Var { apply(.log) }
    public func sin() -> Var { apply(.sin) }
    public func cos() -> Var { apply(.cos) }
    public func sqrt() -> Var { apply(.sqrt) }

    /// op(self)·op(b) for matrices.
    public func matmul(_ b: Var, transA: Bool = false, transB: Bool = false) -> Var {
        same(b)
        return tape.record(product(b, transA: transA, transB: transB, bias: nil),
                           .matmul(id, b.id, transA: transA, transB: transB), id, b.id)
    }

    /// self·wᵀ + bias for x of shape [n, in], w of shape [out, in] and a bias of shape [out] (PyTorch's
    /// `nn.Linear`): one node whose product starts from the bias, instead of a product and a broadcast sum.
    public func affine(_ w: Var, _ bias: Var) -> Var {
        same(w)
        same(bias)
        return tape.record(product(w, transA: false, transB: true, bias: bias.value), .affine(id, w.id, bias.id),
                           id, w.id, bias.id)
    }

    private func product(_ b: Var, transA: Bool, transB: Bool, bias: Tensor?) -> Tensor {
        let bv = b.value, m = transA ? shape[1] : shape[0], k = transA ? shape[0] : shape[1]
        if transB, bv.rank == 2, bv.shape[0] >= 8, SmallGEMM.applies(m: m, n: bv.shape[0], k: k) {
            // The small kernel wants B′'s rows contiguous: transpose b once per tape, not once per product
            // (a weight is used transposed by the forward pass and again by each second-order pass). Fewer
            // than eight columns go to its dot-product path, which reads b as it is.
            return Tensor.matmul(value, tape.transposedValue(b.id), transA: transA, bias: bias)
        }
        return Tensor.matmul(value, bv, transA: transA, transB: transB, bias: bias)
    }

    /// Sum over the axes along which `shape` broadcasts to this value's shape.
    public func sum(to shape: [Int]) -> Var {
        if shape == self.shape { return self }
        return tape.record(value.sum(to: shape), .sumTo(id), id)
    }

    /// Repeats along broadcast axes to `shape`.
    public func expand(to shape: [Int]) -> Var {
        if shape == self.shape { return self }
        return tape.record(value.expand(to: shape), .expand(id), id)
    }

    /// Sum of all elements (rank 0).
    public func sum() -> Var { sum(to: []) }

    /// Mean of all elements (rank 0).
    public func mean() -> Var { sum() * (1 / Float(Swift.max(value.count, 1))) }

    /// Sum over `axis`, keeping it with length 1 when `keepingDimension`.
    public func sum(axis: Int, keepingDimension: Bool = false) -> Var {
        var s = shape
        s[axis] = 1
        let r = sum(to: s)
        if keepingDimension { return r }
        s.remove(at: axis)
        return r.reshaped(s)
    }

    /// Sum over every axis but the first: one figure per example of a batch, shape [n].
    public func sumPerRow() -> Var {
        let n = shape[0]
        return reshaped([n, value.count / Swift.max(n, 1)]).sum(to: [n, 1]).reshaped([n])
    }

    public func reshaped(_ newShape: [Int]) -> Var {
        if newShape == shape { return self }
        return tape.record(value.reshaped(newShape), .reshape(id), id)
    }

    public func transposed() -> Var { tape.record(value.transposed(), .transpose(id), id) }

    /// Joins along `axis`.
    public static func concatenate(_ parts: [Var], axis: Int) -> Var {
        precondition(!parts.isEmpty)
        let t = parts[0].tape
        if parts.count == 1 { return parts[0] }
        let ids = parts.map(\.id)
        let first = t.concatParts.count
        t.concatParts.append(contentsOf: ids)
        return t.record(Tensor.concatenate(parts.map(\.value), axis: axis),
                        .concat(first: first, count: ids.count, axis: axis), inputs: ids)
    }

    /// The elements with index in `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Var {
        if range == 0..<shape[axis] { return self }
        return tape.record(value.slice(axis: axis, range), .slice(id, axis: axis, start: range.lowerBound), id)
    }

    /// Zeros of axis length `length` with this value at `start` along `axis`.
    public func padded(axis: Int, start: Int, length: Int) -> Var {
        tape.record(value.padded(axis: axis, start: start, length: length), .pad(id, axis: axis, start: start), id)
    }

    /// Multiplies each row i of a batch [n, …] by c[i] (c of shape [n]).
    public func scaledPerRow(_ c: Var) -> Var {
        var s = [Int](repeating: 1, count: shape.count)
        s[0] = shape[0]
        return self * c.reshaped(s)
    }

    /// conv(self, w): a 2-D convolution of NCHW input under `geometry` (PyTorch's `Conv2d` without bias).
    public func conv(_ w: Var, _ geometry: ConvGeometry) -> Var {
        same(w)
        let (y, patches) = Tensor.convKeepingPatches(value, w.value, geometry)
        let v = tape.record(y, .conv(id, w.id, geometry), id, w.id)
        if v.requiresGrad && w.requiresGrad, let patches { tape.convInputs[v.id] = patches }
        return v
    }

    /// convᵀ(self, w): the transpose of x ↦ conv(x, w) (PyTorch's `ConvTranspose2d` without bias).
    public func convAdjoint(_ w: Var, _ geometry: ConvGeometry) -> Var {
        same(w)
        let (x, input) = Tensor.convAdjointKeepingInput(value, w.value, geometry)
        let v = tape.record(x, .convAdjoint(id, w.id, geometry), id, w.id)
        if v.requiresGrad && w.requiresGrad, let input { tape.convInputs[v.id] = input }
        return v
    }

    /// convᵀ of the concatenation of `parts` along channels (NCHW batches of the same size, each of one channel or
    /// more), without forming it:
    /// `Var.concatenate(parts, axis: 1).convAdjoint(w, geometry)` in one node, each part multiplied by its own
    /// rows of w.
    public static func convAdjoint(concatenating parts: [Var], _ w: Var, _ geometry: ConvGeometry) -> Var {
        precondition(!parts.isEmpty)
        if parts.count == 1 { return parts[0].convAdjoint(w, geometry) }
        for p in parts { w.same(p) }
        let t = w.tape, ids = parts.map(\.id)
        let (x, input) = Tensor.convAdjointKeepingInput(parts: parts.map(\.value), w.value, geometry)
        let first = t.concatParts.count
        t.concatParts.append(contentsOf: ids)
        let v = t.record(x, .convAdjointOfParts(first: first, count: ids.count, w: w.id, geometry), inputs: ids + [w.id])
        if v.requiresGrad && w.requiresGrad, let input { t.convInputs[v.id] = input }
        return v
    }

    /// ∂⟨conv(self, w), y⟩/∂w.
    public func convWeight(_ y: Var, _ geometry: ConvGeometry) -> Var {
        same(y)
        return tape.record(Tensor.convWeight(value, y.value, geometry), .convWeight(id, y.id, geometry), id, y.id)
    }

    /// silu(GroupNorm(self + shift)) as one node (see `GroupNormGeometry`): self [N, C, …], shift [N, C],
    /// weight and bias [C].
    public func groupNormSiLU(shift: Var, weight: Var, bias: Var, groups: Int, epsilon: Float) -> Var {
        same(shift); same(weight); same(bias)
        let (z, statistics) = Tensor.groupNormSiLUKeepingStatistics(value, shift: shift.value, weight: weight.value,
                                                                    bias: bias.value, groups: groups, epsilon: epsilon)
        let v = tape.record(z, .groupNormSiLU(id, shift: shift.id, weight: weight.id, bias: bias.id, groups: groups,
                                              epsilon: epsilon),
                            inputs: [id, shift.id, weight.id, bias.id])
        if v.requiresGrad { tape.savedStatistics[v.id] = statistics }
        return v
    }
}

/// The gradients of ⟨g, silu(GroupNorm(x + shift))⟩ written with taped operations (the formulas of
/// `Tensor.groupNormSiLUGradients`), for backward passes that are differentiated again; each is built on the
/// tape when first asked for, from the parts they share.
final class GroupNormSiLUGradients {
    let shape: [Int], n: Int, channels: Int, groups: Int, m: Int
    let perChannel: [Int], perExample: [Int]
    let weight: Var
    /// x̂ [n, G, m] and dy = g·silu′(y).
    let xHat: Var, dy: Var, r: Var

    init(_ x: Var, shift: Var, weight: Var, bias: Var, groups: Int, epsilon: Float, _ g: Var) {
        shape = x.shape
        n = shape[0]; channels = shape[1]; self.groups = groups
        m = x.value.count / (n * groups)
        var perChannel = [Int](repeating: 1, count: shape.count), perExample = perChannel
        perChannel[1] = channels
        perExample[0] = n; perExample[1] = channels
        self.perChannel = perChannel; self.perExample = perExample
        self.weight = weight
        let h = (x + shift.reshaped(perExample)).reshaped([n, groups, m])
        let centred = h - h.sum(to: [n, groups, 1]) * (1 / Float(m))
        r = ((centred.squared().sum(to: [n, groups, 1]) * (1 / Float(m))) + epsilon).sqrt().apply(.reciprocal)
        xHat = centred * r
        let y = xHat.reshaped(shape) * weight.reshaped(perChannel) + bias.reshaped(perChannel)
        dy = g * y.apply(.silu, order: 1)
    }

    /// ∂x = r·(∂x̂ − mean ∂x̂ − x̂·mean(∂x̂·x̂)) per group, ∂x̂ = dy·weight.
    lazy var x: Var = {
        let dxHat = (dy * weight.reshaped(perChannel)).reshaped([n, groups, m])
        let a = dxHat.sum(to: [n, groups, 1]) * (1 / Float(m))
        let b = (dxHat * xHat).sum(to: [n, groups, 1]) * (1 / Float(m))
        return (r * (dxHat - a - xHat * b)).reshaped(shape)
    }()
    lazy var shift: Var = x.sum(to: perExample).reshaped([n, channels])
    lazy var weightGradient: Var = (dy * xHat.reshaped(shape)).sum(to: perChannel).reshaped([channels])
    lazy var bias: Var = dy.sum(to: perChannel).reshaped([channels])
}
