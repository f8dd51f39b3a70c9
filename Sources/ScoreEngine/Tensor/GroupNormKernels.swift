/// The U-Net's block after each convolution, silu(GroupNorm(x + shift)), as one pass over the data forward (after
/// the statistics' two) and two backward (with, for short planes, each channel's sums between them), instead of the dozen broadcast operations (each a pass, and a tensor)
/// that the taped composition takes. x is [N, C, …] (C channels of P = ∏… entries each), shift [N, C] (added per example and
/// channel), weight and bias [C]; the C channels split into `groups` groups of C/G consecutive channels, and
/// each example's group is normalised by its own mean and biased variance:
///
///     x̂ = (x + shift − μ)·r,   r = 1/√(var + ε),   y = weight·x̂ + bias,   z = y·σ(y).
///
/// Statistics are taken in two passes over the group (mean, then the centred sum of squares), as the taped
/// form does; the tape keeps them for the backward pass (which takes them again when called without them).
/// Every pass centres an entry (x + shift − μ) before scaling it, so that a mean far from zero costs no
/// precision.
struct GroupNormGeometry {
    let n: Int, channels: Int, plane: Int, groups: Int
    let epsilon: Float

    init(shape: [Int], groups: Int, epsilon: Float) {
        precondition(shape.count >= 2 && groups > 0 && shape[1] % groups == 0,
                     "GroupNorm of \(groups) groups on \(shape)")
        n = shape[0]
        channels = shape[1]
        plane = shape.dropFirst(2).reduce(1, *)
        self.groups = groups
        self.epsilon = epsilon
    }

    var perGroup: Int { channels / groups }

    /// Planes shorter than this are taken a group at a time (see `ChannelLanes`): a plane of P < 16 entries
    /// would otherwise fill one vector of 16 lanes for P (4 at the U-Net's 2×2 level), and short planes pay
    /// a vector's horizontal sums and partial tail each.
    static let blockPlane = 64
    var byGroup: Bool { plane < GroupNormGeometry.blockPlane }

    /// Mean and 1/√(var + ε) of example b's group: its channels c0 ..< c0 + C/G, each shifted by its own s[c].
    @inline(__always)
    func statistics(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, example b: Int, group: Int) -> (Float, Float) {
        let c0 = group * perGroup
        var sum: Float = 0
        for c in c0..<(c0 + perGroup) {
            let p = x + (b * channels + c) * plane
            sum += Kernels.sum(p, plane) + Float(plane) * s[b * channels + c]
        }
        let m = Float(perGroup * plane)
        let mean = sum / m
        var squares: Float = 0
        for c in c0..<(c0 + perGroup) {
            let p = x + (b * channels + c) * plane
            squares += GroupNormGeometry.centredSquares(p, plane, mean - s[b * channels + c])
        }
        return (mean, 1 / (squares / m + epsilon).squareRoot())
    }

    /// Σ (p[i] − μ)².
    @inline(__always)
    static func centredSquares(_ p: UnsafePointer<Float>, _ count: Int, _ mu: Float) -> Float {
        let m = FastMath.V(repeating: mu)
        var acc = FastMath.V.zero
        var i = 0
        while i + FastMath.V.scalarCount <= count {
            let d = load(p + i) - m
            acc.addProduct(d, d)
            i += FastMath.V.scalarCount
        }
        var total = acc.sum()
        while i < count { let d = p[i] - mu; total += d * d; i += 1 }
        return total
    }
}

/// Per-channel values repeated over their channel's plane, so that a group's contiguous block of entries
/// (C/G channels of P entries) is taken in whole vectors whose lanes carry their own channel's weight, bias
/// and shift: `weight` and `bias` for the call, `shift` refilled for each example. Each has a vector of
/// padding, so a vector past the last channel reads memory that exists (its lanes are never used).
struct ChannelLanes {
    var weight: [Float], bias: [Float], shift: [Float]
    let channels: Int, plane: Int

    init(weight w: UnsafePointer<Float>, bias b: UnsafePointer<Float>, channels: Int, plane: Int) {
        self.channels = channels
        self.plane = plane
        let n = channels * plane + FastMath.V.scalarCount
        weight = [Float](repeating: 0, count: n)
        bias = weight
        shift = weight
        ChannelLanes.spread(w, channels, plane, into: &weight)
        ChannelLanes.spread(b, channels, plane, into: &bias)
    }

    /// For each example and each of its `groups` groups in order (the order the kernels' spills rely on): the
    /// example's shifts s[e, c] spread over their planes, then `body(e, group, shift, weight, bias)` with the three
    /// arrays' storage at the group's block.
    mutating func forEachBlock(_ s: UnsafePointer<Float>, examples n: Int, groups: Int,
                               _ body: (Int, Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
        let block = channels / groups * plane
        for e in 0..<n {
            ChannelLanes.spread(s + e * channels, channels, plane, into: &shift)
            shift.withUnsafeBufferPointer { ls in weight.withUnsafeBufferPointer { lw in bias.withUnsafeBufferPointer { lb in
                for group in 0..<groups {
                    let local = group * block
                    body(e, group, ls.baseAddress! + local, lw.baseAddress! + local, lb.baseAddress! + local)
                }
            } } }
        }
    }

    private static func spread(_ v: UnsafePointer<Float>, _ channels: Int, _ plane: Int, into out: inout [Float]) {
        out.withUnsafeMutableBufferPointer { o in
            var q = o.baseAddress!
            for c in 0..<channels {
                let value = v[c]
                for k in 0..<plane { q[k] = value }
                q += plane
            }
        }
    }
}

@inline(__always) private func load(_ p: UnsafePointer<Float>) -> FastMath.V {
    UnsafeRawPointer(p).loadUnaligned(as: FastMath.V.self)
}
@inline(__always) private func store(_ v: FastMath.V, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: FastMath.V.self)
}
private let laneIndices = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
/// The first `count` (< 16) lanes from p, the rest `fill`.
@inline(__always) private func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> FastMath.V {
    var v = FastMath.V(repeating: fill)
    for j in 0..<count { v[j] = p[j] }
    return v
}
@inline(__always) private func storePartial(_ v: FastMath.V, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for j in 0..<count { p[j] = v[j] }
}
/// The vector at p + i, or where fewer than a vector's entries remain before `available`, those (the rest 0).
@inline(__always) private func load(_ p: UnsafePointer<Float>, _ i: Int, within available: Int) -> FastMath.V {
    i + FastMath.V.scalarCount <= available ? load(p + i) : loadPartial(p + i, available - i)
}
/// v to p + i, or only its lanes before `available`.
@inline(__always) private func store(_ v: FastMath.V, _ p: UnsafeMutablePointer<Float>, _ i: Int, within available: Int) {
    if i + FastMath.V.scalarCount <= available { store(v, p + i) } else { storePartial(v, p + i, available - i) }
}
/// v with the lanes from k on zeroed: all ones in lanes below k (the sign of lane − k) for a bitwise and (a
/// mask made by comparison was compiled lane by lane through memory).
@_transparent private func lanesBelow(_ k: Int, _ v: FastMath.V) -> FastMath.V {
    FastMath.float(FastMath.bits(v) & ((laneIndices &- Int32(k)) &>> 31))
}

extension Tensor {
    /// silu(GroupNorm(x + shift)) (see `GroupNormGeometry`): x [N, C, …], shift [N, C], weight and bias [C].
    public static func groupNormSiLU(_ x: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, groups: Int,
                                     epsilon: Float) -> Tensor {
        groupNormSiLUKeepingStatistics(x, shift: shift, weight: weight, bias: bias, groups: groups, epsilon: epsilon).0
    }

    /// silu(GroupNorm(x + shift)) and each example's groups' mean and 1/√(var + ε), [μ, r] per (example, group)
    /// in that order, which the backward pass takes again.
    static func groupNormSiLUKeepingStatistics(_ x: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, groups: Int,
                                               epsilon: Float) -> (Tensor, [Float]) {
        let g = GroupNormGeometry(shape: x.shape, groups: groups, epsilon: epsilon)
        precondition(shift.shape == [g.n, g.channels] && weight.shape == [g.channels] && bias.shape == [g.channels],
                     "GroupNorm shapes: x \(x.shape), shift \(shift.shape), weight \(weight.shape), bias \(bias.shape)")
        let total = x.count
        var statistics = [Float](repeating: 0, count: 2 * g.n * g.groups)
        let z = Tensor(shape: x.shape) { z, _ in
            x.scalars.withUnsafeBufferPointer { px in
                shift.scalars.withUnsafeBufferPointer { ps in
                    weight.scalars.withUnsafeBufferPointer { pw in
                        bias.scalars.withUnsafeBufferPointer { pb in
                            let x = px.baseAddress!, s = ps.baseAddress!, w = pw.baseAddress!, b = pb.baseAddress!
                            if g.byGroup {
                                groupNormSiLUByGroup(x, s, w, b, z, g, &statistics)
                                return
                            }
                            for e in 0..<g.n {
                                for group in 0..<g.groups {
                                    let (mean, r) = g.statistics(x, s, example: e, group: group)
                                    statistics[2 * (e * g.groups + group)] = mean
                                    statistics[2 * (e * g.groups + group) + 1] = r
                                    for c in (group * g.perGroup)..<((group + 1) * g.perGroup) {
                                        // y = (x + centre)·a + b[c] with centre = s − μ, a = r·w[c].
                                        let offset = (e * g.channels + c) * g.plane
                                        silu(x + offset, z + offset, g.plane, available: total - offset,
                                             centre: s[e * g.channels + c] - mean, scale: r * w[c], bias: b[c])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (z, statistics)
    }

    /// The forward pass a group's block at a time (planes shorter than `GroupNormGeometry.blockPlane`): the same
    /// formulas, with each lane's channel values from `ChannelLanes`.
    private static func groupNormSiLUByGroup(_ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                             _ b: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
                                             _ g: GroupNormGeometry, _ statistics: inout [Float]) {
        typealias V = FastMath.V
        let width = V.scalarCount, total = g.n * g.channels * g.plane
        let block = g.perGroup * g.plane, m = Float(block)
        var lanes = ChannelLanes(weight: w, bias: b, channels: g.channels, plane: g.plane)
        lanes.forEachBlock(s, examples: g.n, groups: g.groups) { e, group, sb, wb, bb in
            let offset = (e * g.groups + group) * block
            let xb = x + offset, zb = z + offset, available = total - offset
            // The mean of x + shift: the block's sum, and each channel's shift P times.
            var shifts: Float = 0
            for c in (group * g.perGroup)..<((group + 1) * g.perGroup) { shifts += s[e * g.channels + c] }
            let mean = (Kernels.sum(xb, block) + Float(g.plane) * shifts) / m
            let vm = V(repeating: mean)
            // Σ (x + shift − μ)².
            var acc = V.zero
            var i = 0
            while i + width <= block {
                let d = load(xb + i) + (load(sb + i) - vm)
                acc.addProduct(d, d)
                i += width
            }
            if i < block {
                let d = lanesBelow(block - i, load(xb, i, within: available) + (load(sb + i) - vm))
                acc.addProduct(d, d)
            }
            let r = 1 / (acc.sum() / m + g.epsilon).squareRoot()
            statistics[2 * (e * g.groups + group)] = mean
            statistics[2 * (e * g.groups + group) + 1] = r
            let vr = V(repeating: r)
            i = 0
            while i + width <= block {
                store(siluStep(load(xb + i), load(sb + i) - vm, vr * load(wb + i), load(bb + i)), zb + i)
                i += width
            }
            if i < block {
                // Past the block, lanes hold the next group's entries, which its own pass writes again.
                store(siluStep(load(xb, i, within: available), load(sb + i) - vm, vr * load(wb + i), load(bb + i)),
                      zb, i, within: available)
            }
        }
    }

    /// z[i] = y·σ(y), y = (x[i] + centre)·scale + bias, for i < count. `available` entries may be read from x and written to z
    /// (the planes are visited in increasing order, so what a last full vector writes past this plane the next
    /// plane's pass overwrites; only the tensor's end needs lane-by-lane access).
    @inline(__always)
    private static func silu(_ x: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ count: Int, available: Int,
                             centre: Float, scale: Float, bias: Float) {
        let vc = FastMath.V(repeating: centre), va = FastMath.V(repeating: scale), vb = FastMath.V(repeating: bias)
        let w = FastMath.V.scalarCount
        var i = 0
        while i + w <= count { store(siluStep(load(x + i), vc, va, vb), z + i); i += w }
        if i < count {
            // The plane's last partial vector: whole when the tensor goes on (one more call, so both are inlined).
            let k = count - i, whole = i + w <= available
            let v = siluStep(whole ? load(x + i) : loadPartial(x + i, k), vc, va, vb)
            if whole { store(v, z + i) } else { storePartial(v, z + i, k) }
        }
    }

    /// y·σ(y) of one vector, y = (x + centre)·scale + bias. Transparent: with @inline(__always) alone it was
    /// compiled as a call (its vectors passed in pieces), which doubled the forward kernel's time.
    @_transparent
    private static func siluStep(_ x: FastMath.V, _ centre: FastMath.V, _ scale: FastMath.V, _ bias: FastMath.V) -> FastMath.V {
        let y = (x + centre) * scale + bias
        return y * FastMath.sigmoid(y)
    }

    /// The gradients of ⟨dz, silu(GroupNorm(x + shift))⟩ with respect to x, shift, weight and bias. With
    /// dy = dz·silu′(y) and, per example and group of m entries, A = Σ weight·dy and B = Σ weight·dy·x̂:
    ///
    ///     ∂x = r·(weight·dy − A/m − x̂·B/m),   ∂shift[n, c] = Σ over the channel's plane of ∂x,
    ///     ∂weight[c] = Σ dy·x̂,   ∂bias[c] = Σ dy   (over examples and the plane).
    ///
    /// `statistics` are the forward pass's (`groupNormSiLUKeepingStatistics`); without them they are taken again.
    public static func groupNormSiLUGradients(_ x: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, groups: Int,
                                              epsilon: Float, _ dz: Tensor, statistics: [Float]? = nil)
        -> (x: Tensor, shift: Tensor, weight: Tensor, bias: Tensor) {
        let g = GroupNormGeometry(shape: x.shape, groups: groups, epsilon: epsilon)
        precondition(dz.shape == x.shape && shift.shape == [g.n, g.channels] && weight.shape == [g.channels]
                     && bias.shape == [g.channels], "GroupNorm gradient shapes")
        precondition(statistics.map { $0.count == 2 * g.n * g.groups } ?? true, "GroupNorm statistics")
        var dShift = Tensor.zeros(shift.shape), dWeight = Tensor.zeros(weight.shape), dBias = Tensor.zeros(bias.shape)
        // Per channel of one group: Σ dy, Σ dy·x̂, Σ x̂.
        var sums = [Float](repeating: 0, count: 3 * g.perGroup)
        let total = x.count
        let dx = Tensor(shape: x.shape) { out, _ in
            x.scalars.withUnsafeBufferPointer { px in
            shift.scalars.withUnsafeBufferPointer { ps in
            weight.scalars.withUnsafeBufferPointer { pw in
            bias.scalars.withUnsafeBufferPointer { pb in
            dz.scalars.withUnsafeBufferPointer { pd in
            dShift.scalars.withUnsafeMutableBufferPointer { qs in
            dWeight.scalars.withUnsafeMutableBufferPointer { qw in
            dBias.scalars.withUnsafeMutableBufferPointer { qb in
            sums.withUnsafeMutableBufferPointer { sums in
                let x = px.baseAddress!, s = ps.baseAddress!, w = pw.baseAddress!, b = pb.baseAddress!
                let dz = pd.baseAddress!, sums = sums.baseAddress!
                let m = Float(g.perGroup * g.plane)
                if g.byGroup {
                    groupNormSiLUGradientsByGroup(x, s, w, b, dz, out, g, statistics, sums, shift: qs.baseAddress!,
                                                  weight: qw.baseAddress!, bias: qb.baseAddress!)
                    return
                }
                for e in 0..<g.n {
                    for group in 0..<g.groups {
                        let k = e * g.groups + group
                        let (mean, r) = statistics.map { ($0[2 * k], $0[2 * k + 1]) }
                            ?? g.statistics(x, s, example: e, group: group)
                        let c0 = group * g.perGroup
                        var bigA: Float = 0, bigB: Float = 0
                        // First pass: dy into out, and the channels' sums.
                        for j in 0..<g.perGroup {
                            let c = c0 + j, offset = (e * g.channels + c) * g.plane
                            let shiftMean = s[e * g.channels + c] - mean
                            let (sdy, sdyx, sx) = siluBackward(x + offset, dz + offset, out + offset, g.plane,
                                                               available: total - offset, centre: shiftMean, r: r,
                                                               weight: w[c], bias: b[c])
                            sums[3 * j] = sdy; sums[3 * j + 1] = sdyx; sums[3 * j + 2] = sx
                            bigA += w[c] * sdy
                            bigB += w[c] * sdyx
                            qb[c] += sdy
                            qw[c] += sdyx
                        }
                        let am = bigA / m, bm = bigB / m
                        // Second pass: ∂x = r·(w·dy − A/m − x̂·B/m) in place, x̂ = (x + s − μ)·r.
                        for j in 0..<g.perGroup {
                            let c = c0 + j, offset = (e * g.channels + c) * g.plane
                            let shiftMean = s[e * g.channels + c] - mean
                            // ∂x = α·dy + β·(x + s − μ) + γ₀.
                            let alpha = r * w[c], beta = -r * r * bm, gamma0 = -r * am
                            inputGradient(out + offset, x + offset, g.plane, alpha, beta, gamma0, centre: shiftMean)
                            qs[e * g.channels + c] = alpha * sums[3 * j] - r * am * Float(g.plane)
                                - r * bm * sums[3 * j + 2]
                        }
                    }
                }
            }}}}}}}}}
        }
        return (dx, dShift, dWeight, dBias)
    }

    /// The gradients a group's block at a time (planes shorter than `GroupNormGeometry.blockPlane`): the same
    /// two passes in whole vectors with each lane's channel values from `ChannelLanes`, and each channel's sums
    /// between them, over its plane's entries of dy (stored by the first pass) and x̂.
    private static func groupNormSiLUGradientsByGroup(
        _ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ dz: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ g: GroupNormGeometry, _ statistics: [Float]?,
        _ sums: UnsafeMutablePointer<Float>, shift qs: UnsafeMutablePointer<Float>, weight qw: UnsafeMutablePointer<Float>, bias qb: UnsafeMutablePointer<Float>
    ) {
        typealias V = FastMath.V
        let width = V.scalarCount, total = g.n * g.channels * g.plane, plane = g.plane
        let block = g.perGroup * plane, m = Float(block)
        let one = V(repeating: 1)
        var lanes = ChannelLanes(weight: w, bias: b, channels: g.channels, plane: plane)
        lanes.forEachBlock(s, examples: g.n, groups: g.groups) { e, group, sb, wb, bb in
            let k = e * g.groups + group
            let (mean, r) = statistics.map { ($0[2 * k], $0[2 * k + 1]) }
                ?? g.statistics(x, s, example: e, group: group)
            let offset = k * block
            let xb = x + offset, dzb = dz + offset, ob = out + offset, available = total - offset
            let vm = V(repeating: mean), vr = V(repeating: r)
            // First pass: dy = dz·silu′(y) into out (past the block, lanes write the next group's entries,
            // which its own first pass writes again).
            var i = 0
            while i < block {
                let (d, _) = siluBackwardStep(load(xb, i, within: available), load(dzb, i, within: available),
                                              load(sb + i) - vm, vr, load(wb + i), load(bb + i), one)
                store(d, ob, i, within: available)
                i += width
            }
            // Each channel's Σ dy, Σ dy·x̂ and Σ x̂ over its plane.
            let c0 = group * g.perGroup
            var bigA: Float = 0, bigB: Float = 0
            for j in 0..<g.perGroup {
                let c = c0 + j, centre = s[e * g.channels + c] - mean
                var sdy: Float = 0, sdyx: Float = 0, sx: Float = 0
                for q in (j * plane)..<((j + 1) * plane) {
                    let d = ob[q], xh = (xb[q] + centre) * r
                    sdy += d; sdyx += d * xh; sx += xh
                }
                sums[2 * j] = sdy; sums[2 * j + 1] = sx
                bigA += w[c] * sdy
                bigB += w[c] * sdyx
                qb[c] += sdy
                qw[c] += sdyx
            }
            let am = bigA / m, bm = bigB / m
            // Second pass: ∂x = α·dy + β·(x + s − μ) + γ₀ with α = r·w per lane.
            let vbeta = V(repeating: -r * r * bm), vgamma = V(repeating: -r * am)
            i = 0
            while i < block {
                let d = vgamma.addingProduct(vr * load(wb + i), load(UnsafePointer(ob), i, within: available))
                    .addingProduct(vbeta, load(xb, i, within: available) + (load(sb + i) - vm))
                store(d, ob, i, within: available)
                i += width
            }
            for j in 0..<g.perGroup {
                let c = c0 + j
                qs[e * g.channels + c] = r * w[c] * sums[2 * j] - r * am * Float(plane) - r * bm * sums[2 * j + 1]
            }
        }
    }

    /// dy = dz·silu′(y) into out with y = weight·x̂ + bias, x̂ = (x + centre)·r; returns (Σ dy, Σ dy·x̂, Σ x̂).
    /// `available` entries may be read and written from the pointers (as in `silu(_:_:_:available:centre:scale:bias:)`: a plane's last
    /// vector may spill into the next plane's output, which that plane's pass overwrites).
    @inline(__always)
    private static func siluBackward(_ x: UnsafePointer<Float>, _ dz: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                     _ count: Int, available: Int, centre: Float, r: Float, weight: Float, bias: Float)
        -> (Float, Float, Float) {
        typealias V = FastMath.V
        let vc = V(repeating: centre), vr = V(repeating: r), vw = V(repeating: weight), vb = V(repeating: bias)
        let one = V(repeating: 1)
        var sdy = V.zero, sdyx = V.zero, sx = V.zero
        let w = V.scalarCount
        var i = 0
        while i + w <= count {
            let (d, xh) = siluBackwardStep(load(x + i), load(dz + i), vc, vr, vw, vb, one)
            store(d, out + i)
            sdy += d; sdyx.addProduct(d, xh); sx += xh
            i += w
        }
        // The plane's last partial vector.
        if i < count {
            let k = count - i, whole = i + w <= available
            // Past the tensor's end, x = −centre makes x̂ = 0 and dz = 0 makes dy = 0.
            let (d0, xh0) = siluBackwardStep(whole ? load(x + i) : loadPartial(x + i, k, fill: -centre),
                                             whole ? load(dz + i) : loadPartial(dz + i, k), vc, vr, vw, vb, one)
            if whole { store(d0, out + i) } else { storePartial(d0, out + i, k) }
            // Lanes past the plane (computed from the next plane's entries) are left out of the sums.
            let d = lanesBelow(k, d0), xh = lanesBelow(k, xh0)
            sdy += d; sdyx.addProduct(d, xh); sx += xh
        }
        return (sdy.sum(), sdyx.sum(), sx.sum())
    }

    /// (dy, x̂) of one vector: x̂ = (x + centre)·r, y = w·x̂ + b, dy = dz·silu′(y) with silu′(y) = σ + y·σ(1 − σ).
    /// Transparent, as `siluStep`.
    @_transparent
    private static func siluBackwardStep(_ xv: FastMath.V, _ dzv: FastMath.V, _ centre: FastMath.V, _ r: FastMath.V,
                                         _ w: FastMath.V, _ b: FastMath.V, _ one: FastMath.V) -> (FastMath.V, FastMath.V) {
        let xh = (xv + centre) * r
        let y = b.addingProduct(w, xh)
        let sg = FastMath.sigmoid(y)
        return (dzv * sg.addingProduct(y * sg, one - sg), xh)
    }

    /// out[i] = α·out[i] + β·(x[i] + centre) + γ.
    @inline(__always)
    private static func inputGradient(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int,
                                      _ alpha: Float, _ beta: Float, _ gamma: Float, centre: Float) {
        let va = FastMath.V(repeating: alpha), vb = FastMath.V(repeating: beta), vg = FastMath.V(repeating: gamma)
        let vc = FastMath.V(repeating: centre)
        let w = FastMath.V.scalarCount
        var i = 0
        while i + w <= count {
            store(vg.addingProduct(va, load(out + i)).addingProduct(vb, load(x + i) + vc), out + i)
            i += w
        }
        while i < count { out[i] = alpha * out[i] + beta * (x[i] + centre) + gamma; i += 1 }
    }
}
