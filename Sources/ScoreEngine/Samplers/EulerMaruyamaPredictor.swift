/// A predictor: one step of a discretisation of the reverse-time SDE from t to t − h, given the score at
/// (x, t) and noise z. Returns the new state and its noise-free mean.
public protocol Predictor: Sendable {
    var name: String { get }
    func step(_ x: Tensor, score: Tensor, t: Double, h: Double, sde: any SDE, noise z: Tensor) -> (x: Tensor, mean: Tensor)
}

/// Euler–Maruyama on the reverse-time SDE dx = [f(x, t) − g(t)² s(x, t)] dt + g(t) dw̄ with dt = −h:
/// x̄ = x − [f(x, t) − g(t)² s]·h, x = x̄ + g(t)√h z.
public struct EulerMaruyamaPredictor: Predictor {
    public init() {}
    public var name: String { "euler_maruyama" }

    public func step(_ x: Tensor, score: Tensor, t: Double, h: Double, sde: any SDE, noise z: Tensor) -> (x: Tensor, mean: Tensor) {
        let g = sde.diffusion(t)
        // x − (a x − g² s) h = (1 − a h) x + g² h s
        var mean = x * Float(1 - sde.driftCoefficient(t) * h)
        mean.addScaled(score, Float(g * g * h))
        var out = mean
        out.addScaled(z, Float(g * h.squareRoot()))
        return (out, mean)
    }
}
