/// Exponential moving average of the weights, θ̄ ← δθ̄ + (1 − δ)θ, used for sampling (Song & Ermon 2020,
/// technique 5). Buffers (non-trainable tensors) are copied as they are.
public struct EMA: Sendable {
    public var decay: Float
    public var shadow: ParameterSet

    public init(decay: Float, initial: ParameterSet) {
        precondition(decay >= 0 && decay < 1)
        self.decay = decay
        shadow = initial
    }

    public mutating func update(_ params: ParameterSet) {
        let d = decay
        for k in 0..<params.count {
            guard params.trainable[k] else { shadow.tensors[k] = params.tensors[k]; continue }
            let n = params.tensors[k].count
            if n == 0 { continue }
            params.tensors[k].scalars.withUnsafeBufferPointer { p in
                shadow.tensors[k].scalars.withUnsafeMutableBufferPointer { s in
                    EMA.blend(s.baseAddress!, UnsafePointer(p.baseAddress!), n, d)
                }
            }
        }
    }

    /// θ̄ ← δθ̄ + (1 − δ)θ over n entries (also run by `Adam.update` inside its pass).
    @inline(__always)
    static func blend(_ shadow: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ n: Int, _ d: Float) {
        for i in 0..<n { shadow[i] = d * shadow[i] + (1 - d) * p[i] }
    }
}
