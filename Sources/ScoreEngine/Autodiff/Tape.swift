/// A reverse-mode automatic differentiation tape (a Wengert list).
///
/// Every operation on `Var`s appends a node holding its value and how it was made. `gradients(of:wrt:)`
/// walks the list backwards and applies each node's vector–Jacobian product, written with the same taped
/// operations; with `createGraph: true` those products are recorded too, so a gradient is itself a `Var`
/// that can be differentiated again (∂/∂θ of tr(∂s/∂x), as exact score matching needs). Without it, the
/// convolutions and the fused GroupNorm + SiLU compute their products with kernels instead (see `Op`).
///
/// A tape belongs to one thread. `reset()` empties it for the next step and keeps its capacity.
public final class Tape {
    @usableFromInline var values: [Tensor] = []
    @usableFromInline var ops: [Op] = []
    @usableFromInline var needsGrad: [Bool] = []
    /// The inputs of the concatenation nodes, each node's a contiguous run (see `Op.concat`), and the parts of
    /// `Op.convAdjointOfParts` nodes.
    @usableFromInline var concatParts: [Int] = []
    /// When false, new nodes record no history (inference, or gradients taken without `createGraph`).
    public var isRecording: Bool
    /// f⁽ᵏ⁾(x) already on the tape, by (x, f, k) and whether the node carries history: several backward
    /// passes over one forward pass (the d Jacobian rows of exact score matching, then their own backward
    /// pass) need the same derivatives of the same activations, and compute each once.
    @usableFromInline var pointwiseNodes: [PointwiseKey: Int] = [:]

    @usableFromInline struct PointwiseKey: Hashable {
        let input: Int, f: Pointwise, order: Int, history: Bool
        @usableFromInline init(input: Int, f: Pointwise, order: Int, history: Bool) {
            self.input = input; self.f = f; self.order = order; self.history = history
        }
    }

    public init(recording: Bool = true) {
        isRecording = recording
        values.reserveCapacity(256)
        ops.reserveCapacity(256)
        needsGrad.reserveCapacity(256)
    }

    /// Number of nodes on the tape.
    public var count: Int { values.count }

    /// Empties the tape (capacity is kept).
    public func reset() {
        values.removeAll(keepingCapacity: true)
        ops.removeAll(keepingCapacity: true)
        needsGrad.removeAll(keepingCapacity: true)
        pointwiseNodes.removeAll(keepingCapacity: true)
        transposes.removeAll(keepingCapacity: true)
        convInputs.removeAll(keepingCapacity: true)
        savedStatistics.removeAll(keepingCapacity: true)
        concatParts.removeAll(keepingCapacity: true)
    }

    /// What a convolution node's weight gradient takes again from its forward pass, by node: the input's patch
    /// matrix of a `conv` node, the input's channel-major copy of a `convAdjoint` node (of its parts' concatenation
    /// for `convAdjointOfParts`; both made only where
    /// the products take the batch whole; see `ConvGeometry.byImage`). Kept when the node records history and
    /// its weight needs a gradient (a cache of values, not nodes).
    @usableFromInline var convInputs: [Int: [Float]] = [:]
    /// The per-group mean and 1/√(var + ε) of a `groupNormSiLU` node that records history, by node.
    @usableFromInline var savedStatistics: [Int: [Float]] = [:]

    /// Transposed copies of matrices on the tape, by node (a cache of values, not nodes).
    @usableFromInline var transposes: [Int: Tensor] = [:]

    @usableFromInline
    func transposedValue(_ id: Int) -> Tensor {
        if let t = transposes[id] { return t }
        let t = values[id].transposed()
        transposes[id] = t
        return t
    }

    /// f⁽ᵒʳᵈᵉʳ⁾(x), reusing the node if the tape has it. Without recording, a node with history serves as
    /// well as one without (its value is the same and nothing new records history).
    @usableFromInline
    func pointwise(_ x: Int, _ f: Pointwise, order: Int) -> Var {
        let history = isRecording && needsGrad[x]
        let key = PointwiseKey(input: x, f: f, order: order, history: history)
        if let id = pointwiseNodes[key] { return Var(id: id, tape: self) }
        if !history, let id = pointwiseNodes[PointwiseKey(input: x, f: f, order: order, history: true)] {
            return Var(id: id, tape: self)
        }
        let y = record(values[x].map(f, order: order), .pointwise(x, f, order), x)
        pointwiseNodes[key] = y.id
        return y
    }

    /// A leaf that gradients are taken with respect to (parameters, or inputs whose derivative is needed).
    public func variable(_ t: Tensor) -> Var { append(t, .leaf, grad: true) }

    /// A leaf with no gradient (data, noise, constants).
    public func constant(_ t: Tensor) -> Var { append(t, .leaf, grad: false) }

    /// A rank-0 constant.
    public func constant(_ v: Float) -> Var { constant(Tensor(v)) }

    @usableFromInline
    func append(_ t: Tensor, _ op: Op, grad: Bool) -> Var {
        values.append(t)
        ops.append(op)
        needsGrad.append(grad)
        return Var(id: values.count - 1, tape: self)
    }

    /// Records the result of an operation on `inputs`; it carries history only if recording and some input does.
    @usableFromInline
    func record(_ t: Tensor, _ op: Op, inputs: [Int]) -> Var {
        var g = false
        if isRecording { for i in inputs where needsGrad[i] { g = true; break } }
        return append(t, g ? op : .leaf, grad: g)
    }

    @usableFromInline
    func record(_ t: Tensor, _ op: Op, _ a: Int) -> Var {
        append(t, isRecording && needsGrad[a] ? op : .leaf, grad: isRecording && needsGrad[a])
    }

    @usableFromInline
    func record(_ t: Tensor, _ op: Op, _ a: Int, _ b: Int) -> Var {
        let g = isRecording && (needsGrad[a] || needsGrad[b])
        return append(t, g ? op : .leaf, grad: g)
    }

    @usableFromInline
    func record(_ t: Tensor, _ op: Op, _ a: Int, _ b: Int, _ c: Int) -> Var {
        let g = isRecording && (needsGrad[a] || needsGrad[b] || needsGrad[c])
        return append(t, g ? op : .leaf, grad: g)
    }

    /// Gradients of `y` with respect to each of `xs`: Σᵢ seedᵢ·∂yᵢ/∂x (seed defaults to ones, which for a
    /// scalar `y` is the plain gradient). With `createGraph` the result is differentiable again.
    /// A leaf `y` does not depend on, gets a zero gradient.
    public func gradients(of y: Var, wrt xs: [Var], seed: Tensor? = nil, createGraph: Bool = false) -> [Var] {
        precondition(y.tape === self && xs.allSatisfy { $0.tape === self }, "variables from another tape")
        let n = y.id + 1
        // Nodes on some path from an x to y.
        var relevant = [Bool](repeating: false, count: n)
        var first = n
        for x in xs where x.id < n { relevant[x.id] = true; first = min(first, x.id) }
        if first < n {
            for i in (first + 1)..<n where !relevant[i] {
                relevant[i] = ops[i].anyInput(concatParts) { relevant[$0] }
            }
        }
        let wasRecording = isRecording
        isRecording = createGraph
        defer { isRecording = wasRecording }

        var grads = [Int?](repeating: nil, count: n)
        let s = seed ?? Tensor.ones(values[y.id].shape)
        precondition(s.shape == values[y.id].shape, "seed shape \(s.shape) differs from \(values[y.id].shape)")
        grads[y.id] = constant(s).id
        for i in stride(from: n - 1, through: first, by: -1) {
            guard relevant[i], let gi = grads[i], needsGrad[i] else { continue }
            let g = Var(id: gi, tape: self)
            vectorJacobianProduct(node: i, g, wants: { relevant[$0] && needsGrad[$0] }) { input, contribution in
                if let prev = grads[input] {
                    grads[input] = (Var(id: prev, tape: self) + contribution).id
                } else {
                    grads[input] = contribution.id
                }
            }
        }
        return xs.map { x in
            if x.id < n, let g = grads[x.id] { return Var(id: g, tape: self) }
            return constant(Tensor.zeros(values[x.id].shape))
        }
    }

    /// Gradient of a scalar with respect to one variable.
    public func gradient(of y: Var, wrt x: Var, createGraph: Bool = false) -> Var {
        gradients(of: y, wrt: [x], createGraph: createGraph)[0]
    }
}

/// A value on a tape: an index into it.
public struct Var {
    public let id: Int
    public let tape: Tape

    @inlinable
    public var value: Tensor { tape.values[id] }
    @inlinable
    public var shape: [Int] { tape.values[id].shape }
    /// Whether gradients flow back through this value.
    public var requiresGrad: Bool { tape.needsGrad[id] }
}
