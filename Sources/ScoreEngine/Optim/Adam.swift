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
        precondition(gradients.count == params.count)
        if m.isEmpty {
            m = params.tensors.map { Tensor.zeros($0.shape) }
            v = m
        }
        var sq: Float = 0
        for g in gradients { if let g { sq += g.squaredNorm } }
        let norm = sq.squareRoot()
        let clipScale: Float = gradClip > 0 && norm > gradClip ? gradClip / (norm + 1e-6) : 1
        let lr = currentLearningRate
        step += 1
        let bc1 = 1 - Float(Foundation.pow(Double(beta1), Double(step)))
        let bc2 = 1 - Float(Foundation.pow(Double(beta2), Double(step)))
        let stepSize = lr / bc1
        let b1 = beta1, b2 = beta2, eps = epsilon
        let rootBC2 = bc2.squareRoot()
        for k in 0..<params.count {
            guard params.trainable[k], let g = gradients[k] else { continue }
            let n = g.count
            g.scalars.withUnsafeBufferPointer { gp in
                m[k].scalars.withUnsafeMutableBufferPointer { mp in
                    v[k].scalars.withUnsafeMutableBufferPointer { vp in
                        params.tensors[k].scalars.withUnsafeMutableBufferPointer { pp in
                            Adam.kernel(gp.baseAddress!, mp.baseAddress!, vp.baseAddress!, pp.baseAddress!, n,
                                        clipScale, b1, b2, eps, stepSize, rootBC2)
                        }
                    }
                }
            }
        }
        return norm
    }

    @inline(__always)
    static func kernel(_ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                       _ p: UnsafeMutablePointer<Float>, _ n: Int, _ clip: Float, _ b1: Float, _ b2: Float,
                       _ eps: Float, _ stepSize: Float, _ rootBC2: Float) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ x: V, _ q: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(q).storeBytes(of: x, as: V.self)
        }
        var i = 0
        let c1 = 1 - b1, c2 = 1 - b2, invRoot = 1 / rootBC2
        while i + 8 <= n {
            let gi = load(g + i) * clip
            let mi = b1 * load(m + i) + c1 * gi
            let vi = b2 * load(v + i) + c2 * gi * gi
            store(mi, m + i)
            store(vi, v + i)
            let denom: V = vi.squareRoot() * invRoot + eps
            store(load(p + i) - stepSize * mi / denom, p + i)
            i += 8
        }
        while i < n {
            let gi = g[i] * clip
            let mi = b1 * m[i] + c1 * gi
            let vi = b2 * v[i] + c2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= stepSize * mi / (vi.squareRoot() * invRoot + eps)
            i += 1
        }
    }

    /// Restores the moment estimates and step count (resuming a run).
    public mutating func restore(step: Int, m: [Tensor], v: [Tensor]) {
        self.step = step
        self.m = m
        self.v = v
    }
}
