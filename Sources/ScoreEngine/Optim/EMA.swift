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
            params.tensors[k].scalars.withUnsafeBufferPointer { p in
                shadow.tensors[k].scalars.withUnsafeMutableBufferPointer { s in
                    for i in 0..<n { s[i] = d * s[i] + (1 - d) * p[i] }
                }
            }
        }
    }
}
