/// NumPy broadcasting: shapes are aligned at their last axes, and an axis of size 1 (or a missing leading
/// axis) repeats to the other operand's size. `BroadcastPlan` turns a pair of shapes into a loop nest over
/// at most a few coalesced axes with a stride per operand (0 on a repeated axis), so that binary ops and
/// their adjoint, the reduction `sum(to:)`, share one mechanism and run contiguous inner loops.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Whether `small` broadcasts to `big` as whole rows: without its leading 1s, it is a suffix of `big`
    /// (a bias [m] against [n, m], or any shape against one with more leading axes). Such pairs, and single
    /// elements, skip `BroadcastPlan`, whose set-up costs more than the loop on the MLPs' small tensors.
    @inline(__always)
    static func isTrailing(_ small: [Int], of big: [Int]) -> Bool {
        var lead = 0
        while lead < small.count && small[lead] == 1 { lead += 1 }
        let k = small.count - lead
        guard k <= big.count else { return false }
        for i in 0..<k where small[lead + i] != big[big.count - k + i] { return false }
        return true
    }

    /// Strides of `shape` seen inside the larger `outShape` (0 on broadcast axes).
    static func strides(of shape: [Int], in outShape: [Int]) -> [Int] {
        let r = outShape.count
        var s = [Int](repeating: 0, count: r)
        var acc = 1
        for i in stride(from: r - 1, through: 0, by: -1) {
            let j = i - (r - shape.count)
            if j >= 0 {
                let d = shape[j]
                s[i] = d == 1 ? 0 : acc
                acc *= d
            }
        }
        return s
    }
}

/// A loop nest over `dims` (outermost first) with one stride vector per operand, adjacent axes merged
/// wherever every operand is contiguous across them.
struct BroadcastPlan {
    var dims: [Int]
    var strides: [[Int]]

    init(outShape: [Int], operandShapes: [[Int]]) {
        var dims = outShape
        var strides = operandShapes.map { Broadcast.strides(of: $0, in: outShape) }
        // Drop axes of size 1, then merge neighbours.
        var keep = [Int]()
        for i in 0..<dims.count where dims[i] != 1 { keep.append(i) }
        dims = keep.map { dims[$0] }
        strides = strides.map { s in keep.map { s[$0] } }
        var i = dims.count - 1
        while i > 0 {
            let mergeable = strides.allSatisfy { $0[i - 1] == $0[i] * dims[i] }
            if mergeable {
                dims[i - 1] *= dims[i]
                dims.remove(at: i)
                for k in 0..<strides.count { strides[k][i - 1] = strides[k][i]; strides[k].remove(at: i) }
            }
            i -= 1
        }
        if dims.isEmpty { dims = [1]; strides = strides.map { _ in [0] } }
        self.dims = dims
        self.strides = strides
    }

    /// Calls `inner(offsets, count, innerStrides)` for every run along the innermost axis.
    @inline(__always)
    func forEachRun(_ inner: ([Int], Int, [Int]) -> Void) {
        let r = dims.count
        let innerStrides = strides.map { $0[r - 1] }
        let n = dims[r - 1]
        if r == 1 { inner(strides.map { _ in 0 }, n, innerStrides); return }
        var index = [Int](repeating: 0, count: r - 1)
        var offsets = [Int](repeating: 0, count: strides.count)
        while true {
            inner(offsets, n, innerStrides)
            var axis = r - 2
            while axis >= 0 {
                index[axis] += 1
                for k in 0..<offsets.count { offsets[k] += strides[k][axis] }
                if index[axis] < dims[axis] { break }
                for k in 0..<offsets.count { offsets[k] -= strides[k][axis] * dims[axis] }
                index[axis] = 0
                axis -= 1
            }
            if axis < 0 { return }
        }
    }
}

/// Elementwise binary operations with broadcasting.
public enum BinaryOp: Sendable {
    case add, sub, mul, div

    @inline(__always)
    func run(_ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
             _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .add: BinaryOp.loop(a, sa, b, sb, y, n, +)
        case .sub: BinaryOp.loop(a, sa, b, sb, y, n, -)
        case .mul: BinaryOp.loop(a, sa, b, sb, y, n, *)
        case .div: BinaryOp.loop(a, sa, b, sb, y, n, /)
        }
    }

    @inline(__always)
    static func loop(_ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                     _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Float, Float) -> Float) {
        if sa == 1 && sb == 1 {
            for i in 0..<n { y[i] = f(a[i], b[i]) }
        } else if sa == 1 {
            let bv = b[0]
            for i in 0..<n { y[i] = f(a[i], bv) }
        } else if sb == 1 {
            let av = a[0]
            for i in 0..<n { y[i] = f(av, b[i]) }
        } else {
            let v = f(a[0], b[0])
            for i in 0..<n { y[i] = v }
        }
    }
}

extension Tensor {
    /// `a op b` with broadcasting.
    public static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape == b.shape {
            return Tensor(shape: a.shape) { y, n in
                a.scalars.withUnsafeBufferPointer { pa in
                    b.scalars.withUnsafeBufferPointer { pb in op.run(pa.baseAddress!, 1, pb.baseAddress!, 1, y, n) }
                }
            }
        }
        guard let out = Broadcast.shape(a.shape, b.shape) else {
            preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        // Fast paths: one operand a single element, or whole rows of the other.
        let total = Tensor.count(of: out)
        if out == a.shape || out == b.shape {
            let aBig = out == a.shape
            let (big, small) = aBig ? (a, b) : (b, a)
            if small.count == 1 || Broadcast.isTrailing(small.shape, of: big.shape) {
                let m = Swift.max(small.count, 1), stride = small.count == 1 ? 0 : 1
                return Tensor(shape: out) { y, _ in
                    big.scalars.withUnsafeBufferPointer { pg in
                        small.scalars.withUnsafeBufferPointer { ps in
                            let g = pg.baseAddress!, q = ps.baseAddress!
                            let run = stride == 0 ? total : m
                            var o = 0
                            while o < total {
                                if aBig { op.run(g + o, 1, q, stride, y + o, run) } else { op.run(q, stride, g + o, 1, y + o, run) }
                                o += run
                            }
                        }
                    }
                }
            }
        }
        let plan = BroadcastPlan(outShape: out, operandShapes: [out, a.shape, b.shape])
        return Tensor(shape: out) { y, _ in
            a.scalars.withUnsafeBufferPointer { pa in
                b.scalars.withUnsafeBufferPointer { pb in
                    plan.forEachRun { off, n, s in
                        op.run(pa.baseAddress! + off[1], s[1], pb.baseAddress! + off[2], s[2], y + off[0], n)
                    }
                }
            }
        }
    }

    /// Sums over the axes along which `shape` would broadcast to `self.shape`: the adjoint of broadcasting.
    public func sum(to shape: [Int]) -> Tensor {
        if shape == self.shape { return self }
        precondition(Broadcast.shape(shape, self.shape) == self.shape,
                     "cannot reduce \(self.shape) to \(shape)")
        let m = Tensor.count(of: shape)
        if count == 0 { return Tensor.zeros(shape) }
        if m == 1 || Broadcast.isTrailing(shape, of: self.shape) {
            // Everything, or whole rows added up: no plan needed.
            return Tensor(shape: shape) { y, _ in
                scalars.withUnsafeBufferPointer { pi in
                    let x = pi.baseAddress!, n = count
                    if m == 1 { y[0] = Kernels.sum(x, n); return }
                    y.update(from: x, count: m)
                    var o = m
                    while o < n {
                        let src = x + o
                        for j in 0..<m { y[j] += src[j] }
                        o += m
                    }
                }
            }
        }
        let plan = BroadcastPlan(outShape: self.shape, operandShapes: [self.shape, shape])
        var out = Tensor.zeros(shape)
        out.scalars.withUnsafeMutableBufferPointer { po in
            let y = po.baseAddress!
            scalars.withUnsafeBufferPointer { pi in
                let x = pi.baseAddress!
                plan.forEachRun { off, n, s in
                    let src = x + off[0], dst = y + off[1]
                    if s[1] == 0 {
                        dst[0] += Kernels.sum(src, n)
                    } else {
                        for i in 0..<n { dst[i] += src[i] }
                    }
                }
            }
        }
        return out
    }

    /// Repeats along broadcast axes to `shape`: the adjoint of `sum(to:)`.
    public func expand(to shape: [Int]) -> Tensor {
        if shape == self.shape { return self }
        if count == 1 { return Tensor(repeating: scalars[0], shape: shape) }
        return Tensor.binary(.add, Tensor.zeros(shape), self)
    }
}
