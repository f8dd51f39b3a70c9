import CSIMD
import Foundation

/// Adam (Kingma & Ba 2015) with PyTorch's update: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// θ ← θ − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). Optional linear warm-up of the learning rate
/// over the first `warmup` steps, optional cosine decay to zero at `decaySteps`, and clipping of the global
/// gradient norm (as score_sde's optimize_fn).
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var warmup: Int = 0
    /// Largest global gradient norm (0: no clipping).
    public var gradClip: Float = 0
    /// Total steps of a cosine decay of the learning rate to zero after warm-up (0: constant).
    public var decaySteps: Int = 0
    /// Number of updates done.
    public private(set) var step: Int = 0
    public var m: [Tensor] = []
    public var v: [Tensor] = []

    public init(learningRate: Float, warmup: Int = 0, gradClip: Float = 0) {
        self.learningRate = learningRate
        self.warmup = warmup
        self.gradClip = gradClip
    }

    /// The learning rate of the next update.
    public var currentLearningRate: Float {
        var lr = warmup > 0 ? learningRate * min(Float(step + 1) / Float(warmup), 1) : learningRate
        if decaySteps > warmup {
            let p = min(max(Float(step - warmup) / Float(decaySteps - warmup), 0), 1)
            lr *= 0.5 * (1 + Float(Foundation.cos(Double.pi * Double(p))))
        }
        return lr
    }

    /// Updates the trainable tensors of `params` in place from gradients (in the same order, nil for
    /// tensors that are not trained). Returns the global gradient norm before clipping.
    @discardableResult
    public mutating func update(_ params: inout ParameterSet, gradients: [Tensor?]) -> Float {
        var none: EMA? = nil
        return update(&params, shards: [gradients], ema: &none, threads: 1)
    }

    /// The constants of one update.
    struct Coefficients {
        var clip: Float, b1: Float, b2: Float, eps: Float, stepSize: Float, rootBC2: Float
    }

    /// One update from gradients given as per-shard parts to be summed (each list in `params`' order),
    /// followed by the EMA's update of the same weights when there is one. The elementwise work — the sum of
    /// the shards, Adam, the EMA — is one pass over each tensor, split into `threads` ranges run on the
    /// worker pool; the result does not depend on `threads`. Returns the global gradient norm before clipping.
    @discardableResult
    public mutating func update(_ params: inout ParameterSet, shards: [[Tensor?]], ema: inout EMA?,
                                threads: Int) -> Float {
        precondition(!shards.isEmpty && shards.allSatisfy { $0.count == params.count })
        if m.isEmpty {
            m = params.tensors.map { Tensor.zeros($0.shape) }
            v = m
        }
        var shards = shards
        while shards.count > 2 {  // the pass reads two shards; fold any others into the second
            let last = shards.removeLast()
            for k in 0..<params.count { if let g = last[k] { shards[1][k]!.addScaled(g, 1) } }
        }
        var sq: Float = 0
        for k in 0..<params.count {
            guard let g0 = shards[0][k] else { continue }
            sq += shards.count == 2 ? Adam.squaredNormOfSum(g0, shards[1][k]!) : g0.squaredNorm
        }
        let norm = sq.squareRoot()
        let lr = currentLearningRate
        step += 1
        let bc1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let bc2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let c = Coefficients(clip: gradClip > 0 && norm > gradClip ? gradClip / (norm + 1e-6) : 1,
                             b1: beta1, b2: beta2, eps: epsilon, stepSize: lr / bc1, rootBC2: bc2.squareRoot())
        let emaDecay = ema?.decay
        // Move every array written into a box of its own, so that their buffers can be held at once (the
        // arrays of one struct cannot be accessed mutably side by side) and are uniquely referenced.
        var slots: [(k: Int, p: FloatBox, m: FloatBox, v: FloatBox, e: FloatBox?)] = []
        for k in 0..<params.count {
            guard params.trainable[k], shards[0][k] != nil else { continue }
            slots.append((k, FloatBox(take(&params.tensors[k].scalars)), FloatBox(take(&m[k].scalars)),
                          FloatBox(take(&v[k].scalars)), ema.map { _ in FloatBox(take(&ema!.shadow.tensors[k].scalars)) }))
        }
        var pointers: [UpdatePointers] = []
        func descend(_ i: Int) {
            guard i < slots.count else {
                Adam.run(pointers, c, emaDecay, threads: threads)
                return
            }
            let slot = slots[i], k = slot.k
            slot.p.scalars.withUnsafeMutableBufferPointer { p in
                slot.m.scalars.withUnsafeMutableBufferPointer { m in
                    slot.v.scalars.withUnsafeMutableBufferPointer { v in
                        shards[0][k]!.scalars.withUnsafeBufferPointer { g0 in
                            func withSecond(_ g1: UnsafePointer<Float>?) {
                                func withShadow(_ e: UnsafeMutablePointer<Float>?) {
                                    pointers.append(UpdatePointers(p: p.baseAddress!, m: m.baseAddress!, v: v.baseAddress!,
                                                                   g0: g0.baseAddress!, g1: g1, e: e, count: p.count))
                                    descend(i + 1)
                                }
                                if let box = slot.e {
                                    box.scalars.withUnsafeMutableBufferPointer { withShadow($0.baseAddress!) }
                                } else {
                                    withShadow(nil)
                                }
                            }
                            if shards.count == 2 {
                                shards[1][k]!.scalars.withUnsafeBufferPointer { withSecond($0.baseAddress!) }
                            } else {
                                withSecond(nil)
                            }
                        }
                    }
                }
            }
        }
        descend(0)
        for slot in slots {
            params.tensors[slot.k].scalars = slot.p.scalars
            m[slot.k].scalars = slot.m.scalars
            v[slot.k].scalars = slot.v.scalars
            if let e = slot.e { ema!.shadow.tensors[slot.k].scalars = e.scalars }
        }
        if ema != nil {
            for k in 0..<params.count where !params.trainable[k] { ema!.shadow.tensors[k] = params.tensors[k] }
        }
        return norm
    }

    /// Runs the update over the tensors in `threads` ranges of about equal length (multiples of eight
    /// elements, so the vector loop covers the same elements whatever the split).
    static func run(_ tensors: [UpdatePointers], _ c: Coefficients, _ emaDecay: Float?, threads: Int) {
        let total = tensors.reduce(0) { $0 + $1.count }
        let parts = max(1, min(threads, total / 4096))
        let body: @Sendable (Int) -> Void = { part in
            let lo = (total * part / parts) & ~7, hi = part == parts - 1 ? total : (total * (part + 1) / parts) & ~7
            var start = 0
            for t in tensors {
                let a = max(lo, start), b = min(hi, start + t.count)
                if a < b { t.apply(from: a - start, to: b - start, c, emaDecay) }
                start += t.count
            }
        }
        if parts > 1 { WorkerPool.shared.run(iterations: parts, body) } else { body(0) }
    }

    /// |a + b|² accumulated as `squaredNorm` does it on the sum.
    static func squaredNormOfSum(_ a: Tensor, _ b: Tensor) -> Float {
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                var acc = SIMD8<Float>.zero
                var i = 0
                let n = pa.count
                while i + 8 <= n {
                    let s = UnsafeRawPointer(pa.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                        + UnsafeRawPointer(pb.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                    acc += s * s
                    i += 8
                }
                var r = acc.sum()
                while i < n { let s = pa[i] + pb[i]; r += s * s; i += 1 }
                return r
            }
        }
    }


    /// Restores the moment estimates and step count (resuming a run).
    public mutating func restore(step: Int, m: [Tensor], v: [Tensor]) {
        self.step = step
        self.m = m
        self.v = v
    }
}

/// The buffers of one tensor's update: weights, moments, the gradient's one or two shard parts, the EMA's
/// shadow. Valid while `Adam.update` holds them.
struct UpdatePointers: @unchecked Sendable {
    let p, m, v: UnsafeMutablePointer<Float>
    let g0: UnsafePointer<Float>
    let g1: UnsafePointer<Float>?
    let e: UnsafeMutablePointer<Float>?
    let count: Int

    /// Elements lo..<hi: g = g0 (+ g1); Adam with PyTorch's formula; then θ̄ ← δθ̄ + (1 − δ)θ.
    func apply(from lo: Int, to hi: Int, _ c: Adam.Coefficients, _ emaDecay: Float?) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ x: V, _ q: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(q).storeBytes(of: x, as: V.self)
        }
        let b1 = c.b1, b2 = c.b2, c1 = 1 - c.b1, c2 = 1 - c.b2, invRoot = 1 / c.rootBC2, eps = c.eps
        let clip = c.clip, stepSize = c.stepSize
        var i = lo
        while i + 8 <= hi {
            let g = g1.map { load(g0 + i) + load($0 + i) } ?? load(g0 + i)
            let gi = g * clip
            let mi = b1 * load(m + i) + c1 * gi
            let vi = b2 * load(v + i) + c2 * gi * gi
            store(mi, m + i)
            store(vi, v + i)
            let denom: V = score_sqrt8(vi) * invRoot + eps
            store(load(p + i) - stepSize * mi / denom, p + i)
            i += 8
        }
        while i < hi {
            let gi = (g1.map { g0[i] + $0[i] } ?? g0[i]) * clip
            let mi = b1 * m[i] + c1 * gi
            let vi = b2 * v[i] + c2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= stepSize * mi / (vi.squareRoot() * invRoot + eps)
            i += 1
        }
        if let e, let d = emaDecay {
            for j in lo..<hi { e[j] = d * e[j] + (1 - d) * p[j] }
        }
    }
}

/// An array in a box of its own (see `Adam.update`).
final class FloatBox: @unchecked Sendable {
    var scalars: [Float]
    init(_ scalars: [Float]) { self.scalars = scalars }
}

/// The array, leaving an empty one in its place (so the caller holds the only reference to its buffer).
@inline(__always)
func take(_ a: inout [Float]) -> [Float] {
    let r = a
    a = []
    return r
}
