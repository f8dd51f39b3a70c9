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
        return update(&params, shards: [gradients], ema: &none)
    }

    /// The constants of one update.
    struct Coefficients {
        var clip: Float, b1: Float, b2: Float, eps: Float, stepSize: Float, rootBC2: Float
    }

    /// One update from gradients given as per-shard parts to be summed (each list in `params`' order),
    /// followed by the EMA's update of the same weights when there is one: the sum of the shards, Adam and
    /// the EMA are one pass over each tensor, on the calling thread, or for large tensors with `threads` > 1 in
    /// two halves on the worker pool (the weights come out the same either way). Returns the global gradient
    /// norm before clipping (without clipping, summed within the update: its last bits depend on the split).
    @discardableResult
    public mutating func update(_ params: inout ParameterSet, shards: [[Tensor?]], ema: inout EMA?, threads: Int = 1) -> Float {
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
        // Clipping needs the norm before the update: a pass of its own. Without it, the update's pass sums the
        // squares as it goes.
        let clipping = gradClip > 0
        var sq: Float = 0
        if clipping {
            for k in 0..<params.count {
                guard let g0 = shards[0][k] else { continue }
                sq += shards.count == 2 ? Adam.squaredNormOfSum(g0, shards[1][k]!) : g0.squaredNorm
            }
        }
        let norm = sq.squareRoot()
        let lr = currentLearningRate
        step += 1
        let bc1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let bc2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let c = Coefficients(clip: clipping && norm > gradClip ? gradClip / (norm + 1e-6) : 1,
                             b1: beta1, b2: beta2, eps: epsilon, stepSize: lr / bc1, rootBC2: bc2.squareRoot())
        let decay = ema?.decay
        var updateSquares: Float = 0
        for k in 0..<params.count {
            guard let g0 = shards[0][k], g0.count > 0 else { continue }
            guard params.trainable[k] else {
                // A gradient the update skips still counts in the norm.
                if !clipping { updateSquares += shards.count == 2 ? Adam.squaredNormOfSum(g0, shards[1][k]!) : g0.squaredNorm }
                continue
            }
            let g1 = shards.count == 2 ? shards[1][k] : nil
            params.tensors[k].scalars.withUnsafeMutableBufferPointer { p in
                m[k].scalars.withUnsafeMutableBufferPointer { mp in
                    v[k].scalars.withUnsafeMutableBufferPointer { vp in
                        g0.scalars.withUnsafeBufferPointer { a in
                            func run(_ b: UnsafePointer<Float>?) {
                                if ema != nil {
                                    ema!.shadow.tensors[k].scalars.withUnsafeMutableBufferPointer { e in
                                        updateSquares += Adam.kernel(Slice(p: p.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!,
                                                                           g0: a.baseAddress!, g1: b, e: e.baseAddress!),
                                                                     p.count, c, decay ?? 0, threads: threads)
                                    }
                                } else {
                                    updateSquares += Adam.kernel(Slice(p: p.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!,
                                                                       g0: a.baseAddress!, g1: b, e: nil),
                                                                 p.count, c, 0, threads: threads)
                                }
                            }
                            if let g1 { g1.scalars.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                        }
                    }
                }
            }
        }
        if ema != nil {
            for k in 0..<params.count where !params.trainable[k] { ema!.shadow.tensors[k] = params.tensors[k] }
        }
        return clipping ? norm : updateSquares.squareRoot()
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


    /// One tensor's pointers for the update: weights, moments, the shards' gradients, the EMA's shadow.
    struct Slice: @unchecked Sendable {
        let p, m, v: UnsafeMutablePointer<Float>
        let g0: UnsafePointer<Float>, g1: UnsafePointer<Float>?
        let e: UnsafeMutablePointer<Float>?

        func advanced(by k: Int) -> Slice {
            Slice(p: p + k, m: m + k, v: v + k, g0: g0 + k, g1: g1.map { $0 + k }, e: e.map { $0 + k })
        }
    }

    /// Tensors of at least this many weights are updated in two halves on two threads (with `threads` > 1):
    /// the update is a pass over five or six arrays, which on one thread leaves the other core idle at the end
    /// of each step. Each such tensor is one more loop of the worker pool, so only the largest are split (on
    /// the MNIST U-Net three tensors, 70 % of its weights).
    static let parallelCount = 1 << 17

    /// `kernel` over a tensor of n weights, in two halves on the worker pool when it is large and `threads` > 1;
    /// returns |g|² (the halves' sums added in order).
    static func kernel(_ s: Slice, _ n: Int, _ c: Coefficients, _ decay: Float, threads: Int) -> Float {
        guard threads > 1 && n >= parallelCount else {
            return kernel(s.p, s.m, s.v, s.g0, s.g1, s.e, n, c, decay)
        }
        let half = (n / 2 + 7) & ~7
        // Each half's sum in its own property (one per thread).
        final class Squares: @unchecked Sendable { var first: Float = 0, second: Float = 0 }
        let squares = Squares()
        WorkerPool.shared.run(iterations: 2) { h in
            let t = s.advanced(by: h * half)
            let r = kernel(t.p, t.m, t.v, t.g0, t.g1, t.e, h == 0 ? half : n - half, c, decay)
            if h == 0 { squares.first = r } else { squares.second = r }
        }
        return squares.first + squares.second
    }

    /// One tensor: g = g0 (+ g1); Adam with PyTorch's formula; then, with a shadow e, θ̄ ← δθ̄ + (1 − δ)θ.
    /// Returns |g|² (before clipping), accumulated as `squaredNormOfSum` does.
    static func kernel(_ p: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                       _ g0: UnsafePointer<Float>, _ g1: UnsafePointer<Float>?, _ e: UnsafeMutablePointer<Float>?,
                       _ n: Int, _ c: Coefficients, _ decay: Float) -> Float {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ x: V, _ q: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(q).storeBytes(of: x, as: V.self)
        }
        let b1 = c.b1, b2 = c.b2, c1 = 1 - c.b1, c2 = 1 - c.b2, invRoot = 1 / c.rootBC2, eps = c.eps
        let clip = c.clip, stepSize = c.stepSize
        var i = 0
        var squares = V.zero
        while i + 8 <= n {
            let g = g1.map { load(g0 + i) + load($0 + i) } ?? load(g0 + i)
            squares += g * g
            let gi = g * clip
            let mi = b1 * load(m + i) + c1 * gi
            let vi = b2 * load(v + i) + c2 * gi * gi
            store(mi, m + i)
            store(vi, v + i)
            let denom: V = score_sqrt8(vi) * invRoot + eps
            store(load(p + i) - stepSize * mi / denom, p + i)
            i += 8
        }
        var total = squares.sum()
        while i < n {
            let g = g1.map { g0[i] + $0[i] } ?? g0[i]
            total += g * g
            let gi = g * clip
            let mi = b1 * m[i] + c1 * gi
            let vi = b2 * v[i] + c2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= stepSize * mi / (vi.squareRoot() * invRoot + eps)
            i += 1
        }
        if let e { EMA.blend(e, p, n, decay) }
        return total
    }

    /// Restores the moment estimates and step count (resuming a run).
    public mutating func restore(step: Int, m: [Tensor], v: [Tensor]) {
        self.step = step
        self.m = m
        self.v = v
    }
}
