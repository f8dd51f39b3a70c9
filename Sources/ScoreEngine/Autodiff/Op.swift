/// How a node was made, and its vector–Jacobian product written with taped operations (so the product is
/// itself differentiable). `g` is the incoming gradient ∂L/∂y of the node's output y. When the backward pass
/// is not recorded, the convolutions and the fused GroupNorm + SiLU compute theirs with kernels instead.
@usableFromInline
enum Op {
    case leaf
    /// y = a ∘ b with broadcasting.
    case binary(BinaryOp, Int, Int)
    /// y = c·a.
    case scale(Int, Float)
    /// y = a + c.
    case shift(Int)
    /// y = f⁽ⁿ⁾(a).
    case pointwise(Int, Pointwise, Int)
    /// y = op(a)·op(b).
    case matmul(Int, Int, transA: Bool, transB: Bool)
    /// y = x·wᵀ + b, b added to every row.
    case affine(Int, Int, Int)
    /// y = a summed over the axes along which y's shape broadcasts to a's.
    case sumTo(Int)
    /// y = a repeated along broadcast axes.
    case expand(Int)
    case reshape(Int)
    /// y = aᵀ (matrices).
    case transpose(Int)
    /// y = [a₀, a₁, …] along `axis`; the parts are `Tape.concatParts[first ..< first + count]` (held there so
    /// that `Op` stays a plain value: copying and dropping nodes then touches no reference counts).
    case concat(first: Int, count: Int, axis: Int)
    /// y = a[…, start ..< start + y.shape[axis], …].
    case slice(Int, axis: Int, start: Int)
    /// y = zeros with a written at [start ..< start + a.shape[axis]] along `axis` (adjoint of slice).
    case pad(Int, axis: Int, start: Int)
    /// y = conv(x, w), y = convᵀ(a, w) and y = ∂⟨conv(x, w), a⟩/∂w under one geometry (see `ConvGeometry`).
    case conv(Int, Int, ConvGeometry)
    case convAdjoint(Int, Int, ConvGeometry)
    case convWeight(Int, Int, ConvGeometry)
    /// y = convᵀ([a₀, a₁, …], w): convAdjoint of the parts' concatenation along channels (a U-Net's skip
    /// connection), which is never formed; the parts are `Tape.concatParts[first ..< first + count]`.
    case convAdjointOfParts(first: Int, count: Int, w: Int, ConvGeometry)
    /// y = silu(GroupNorm(x + shift)) with shift [N, C] per example and channel, weight and bias [C] (see
    /// `GroupNormGeometry`): the U-Net's block as one node.
    case groupNormSiLU(Int, shift: Int, weight: Int, bias: Int, groups: Int, epsilon: Float)

    /// Whether some input satisfies `p` (without building an array of inputs: the backward pass asks this of
    /// every node). `concatParts` is the tape's table of concatenated parts.
    @usableFromInline
    func anyInput(_ concatParts: [Int], _ p: (Int) -> Bool) -> Bool {
        switch self {
        case .leaf: return false
        case .affine(let x, let w, let b): return p(x) || p(w) || p(b)
        case .groupNormSiLU(let x, let s, let w, let b, _, _): return p(x) || p(s) || p(w) || p(b)
        case .binary(_, let a, let b), .matmul(let a, let b, _, _), .conv(let a, let b, _), .convAdjoint(let a, let b, _),
             .convWeight(let a, let b, _):
            return p(a) || p(b)
        case .scale(let a, _), .shift(let a), .pointwise(let a, _, _), .sumTo(let a), .expand(let a),
             .reshape(let a), .transpose(let a), .slice(let a, _, _), .pad(let a, _, _):
            return p(a)
        case .concat(let first, let count, _): return concatParts[first..<(first + count)].contains(where: p)
        case .convAdjointOfParts(let first, let count, let w, _):
            return p(w) || concatParts[first..<(first + count)].contains(where: p)
        }
    }
}

extension Tape {
    /// Calls `accumulate(input, ∂L/∂input)` for each input of node `i` that `wants` asks for, given
    /// g = ∂L/∂(node i). Contributions nobody wants are not computed.
    func vectorJacobianProduct(node i: Int, _ g: Var, wants: (Int) -> Bool, _ give: (Int, Var) -> Void) {
        func accumulate(_ input: Int, _ contribution: @autoclosure () -> Var) {
            if wants(input) { give(input, contribution()) }
        }
        let y = Var(id: i, tape: self)
        func v(_ j: Int) -> Var { Var(id: j, tape: self) }
        switch ops[i] {
        case .leaf:
            return
        case .binary(let op, let a, let b):
            let sa = values[a].shape, sb = values[b].shape
            switch op {
            case .add:
                accumulate(a, g.sum(to: sa))
                accumulate(b, g.sum(to: sb))
            case .sub:
                accumulate(a, g.sum(to: sa))
                accumulate(b, (-g).sum(to: sb))
            case .mul:
                accumulate(a, (g * v(b)).sum(to: sa))
                accumulate(b, (g * v(a)).sum(to: sb))
            case .div:
                accumulate(a, (g / v(b)).sum(to: sa))
                accumulate(b, (-(g * y) / v(b)).sum(to: sb))
            }
        case .scale(let a, let c):
            accumulate(a, g * c)
        case .shift(let a):
            accumulate(a, g)
        case .pointwise(let a, let f, let order):
            accumulate(a, g * v(a).apply(f, order: order + 1))
        case .matmul(let a, let b, let ta, let tb):
            // y = A′B′ with A′ = op(A), B′ = op(B): ∂A′ = g·B′ᵀ, ∂B′ = A′ᵀ·g.
            let va = v(a), vb = v(b)
            accumulate(a, ta ? vb.matmul(g, transA: tb, transB: true) : g.matmul(vb, transB: !tb))
            accumulate(b, tb ? g.matmul(va, transA: true, transB: ta) : va.matmul(g, transA: !ta))
        case .affine(let x, let w, let b):
            accumulate(x, g.matmul(v(w)))
            accumulate(w, g.matmul(v(x), transA: true))
            accumulate(b, g.sum(to: values[b].shape))
        case .sumTo(let a):
            accumulate(a, g.expand(to: values[a].shape))
        case .expand(let a):
            accumulate(a, g.sum(to: values[a].shape))
        case .reshape(let a):
            accumulate(a, g.reshaped(values[a].shape))
        case .transpose(let a):
            accumulate(a, g.transposed())
        case .concat(let first, let count, let axis):
            var start = 0
            for p in concatParts[first..<(first + count)] {
                let len = values[p].shape[axis]
                accumulate(p, g.slice(axis: axis, start ..< start + len))
                start += len
            }
        case .slice(let a, let axis, let start):
            accumulate(a, g.padded(axis: axis, start: start, length: values[a].shape[axis]))
        case .pad(let a, let axis, let start):
            accumulate(a, g.slice(axis: axis, start ..< start + values[a].shape[axis]))
        case .conv(let x, let w, let geometry):
            // ⟨g, conv(x, w)⟩ is bilinear: its x-gradient is convᵀ(g, w), its w-gradient convWeight(x, g).
            if isRecording {
                accumulate(x, g.convAdjoint(v(w), geometry))
                accumulate(w, v(x).convWeight(g, geometry))
            } else if wants(x) || wants(w) {
                // Both at once (see `Tensor.convGradients`), with x's patch matrix from the forward pass if kept.
                let d = Tensor.convGradients(x: values[x], w: values[w], dy: g.value, geometry, patches: convInputs[i],
                                             wantX: wants(x), wantW: wants(w))
                if let dx = d.x { accumulate(x, constant(dx)) }
                if let dw = d.w { accumulate(w, constant(dw)) }
            }
        case .convAdjoint(let a, let w, let geometry):
            // ⟨g, convᵀ(a, w)⟩ = ⟨conv(g, w), a⟩.
            if isRecording {
                accumulate(a, g.conv(v(w), geometry))
                accumulate(w, g.convWeight(v(a), geometry))
            } else if wants(a) || wants(w) {
                // Both from one patch matrix of g, with a's channel-major copy from the forward pass if kept.
                let d = Tensor.convAdjointGradients(y: values[a], w: values[w], dx: g.value, geometry,
                                                    channelMajor: convInputs[i], wantY: wants(a), wantW: wants(w))
                if let da = d.y { accumulate(a, constant(da)) }
                if let dw = d.w { accumulate(w, constant(dw)) }
            }
        case .convAdjointOfParts(let first, let count, let w, let geometry):
            // ⟨g, convᵀ([a…], w)⟩ = ⟨conv(g, w), [a…]⟩: each part's gradient is its channels of conv(g, w).
            let parts = Array(concatParts[first..<(first + count)])
            let wantParts = parts.contains(where: wants)
            if isRecording {
                if wantParts {
                    let c = g.conv(v(w), geometry)
                    var start = 0
                    for p in parts {
                        let len = values[p].shape[1]
                        accumulate(p, c.slice(axis: 1, start..<(start + len)))
                        start += len
                    }
                }
                accumulate(w, g.convWeight(Var.concatenate(parts.map(v), axis: 1), geometry))
            } else if wantParts || wants(w) {
                let d = Tensor.convAdjointGradients(parts: parts.map { values[$0] }, w: values[w], dx: g.value, geometry,
                                                    channelMajor: convInputs[i], wantY: wantParts, wantW: wants(w))
                if let dys = d.parts { for (p, dy) in zip(parts, dys) { accumulate(p, constant(dy)) } }
                if let dw = d.w { accumulate(w, constant(dw)) }
            }
        case .convWeight(let x, let a, let geometry):
            // ⟨g, convWeight(x, a)⟩ = ⟨conv(x, g), a⟩.
            accumulate(x, v(a).convAdjoint(g, geometry))
            accumulate(a, v(x).conv(g, geometry))
        case .groupNormSiLU(let x, let s, let w, let b, let groups, let epsilon):
            guard wants(x) || wants(s) || wants(w) || wants(b) else { return }
            if isRecording {
                // Differentiable again: the same gradients written with taped operations, each built only if wanted.
                let d = GroupNormSiLUGradients(v(x), shift: v(s), weight: v(w), bias: v(b), groups: groups,
                                               epsilon: epsilon, g)
                accumulate(x, d.x); accumulate(s, d.shift); accumulate(w, d.weightGradient); accumulate(b, d.bias)
            } else {
                let d = Tensor.groupNormSiLUGradients(values[x], shift: values[s], weight: values[w], bias: values[b],
                                                      groups: groups, epsilon: epsilon, g.value,
                                                      statistics: savedStatistics[i])
                accumulate(x, constant(d.x)); accumulate(s, constant(d.shift))
                accumulate(w, constant(d.weight)); accumulate(b, constant(d.bias))
            }
        }
    }
}
