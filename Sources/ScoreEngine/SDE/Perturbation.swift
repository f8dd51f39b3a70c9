/// How data are perturbed at noise level t: x_t = m(t)·x₀ + σ(t)·z with z ~ N(0, I), so that
/// ∇ log p_{0t}(x_t | x₀) = −(x_t − m(t)x₀)/σ(t)². Both the SDEs and the discrete noise ladder describe
/// one; score networks divide their output by σ(t) (Song & Ermon 2020, technique 3).
public protocol Perturbation: Sendable {
    /// m(t), the mean coefficient of p_{0t}.
    func meanCoefficient(_ t: Double) -> Double
    /// σ(t), the standard deviation of p_{0t}.
    func std(_ t: Double) -> Double
}

extension Perturbation {
    /// σ(t) for a batch of noise levels.
    public func std(_ t: Tensor) -> Tensor { t.mapScalars { Float(std(Double($0))) } }

    /// x_t = m(t)·x₀ + σ(t)·z with per-row times t.
    public func perturb(_ x0: Tensor, t: [Double], noise z: Tensor) -> Tensor {
        x0 * perRow(t.map(meanCoefficient), x0.shape) + z * perRow(t.map(std), x0.shape)
    }
}

/// One fixed noise scale: x̃ = x + σz at every "time" (denoising score matching with one σ).
public struct FixedNoise: Perturbation {
    public let sigma: Double
    public init(sigma: Double) { self.sigma = sigma }
    public func meanCoefficient(_ t: Double) -> Double { 1 }
    public func std(_ t: Double) -> Double { sigma }
}

/// [n, 1, …, 1] with the rank of `shape`: the shape that broadcasts a per-row scalar over a batch.
public func rowShape(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    s[0] = shape[0]
    return s
}

extension Tensor {
    /// A tensor of the same shape with `f` applied to each scalar (for small per-row tensors).
    public func mapScalars(_ f: (Float) -> Float) -> Tensor { Tensor(shape: shape, scalars: scalars.map(f)) }
}
