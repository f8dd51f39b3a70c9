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
    public var name: String { "em" }

    public func step(_ x: Tensor, score: Tensor, t: Double, h: Double, sde: any SDE, noise z: Tensor) -> (x: Tensor, mean: Tensor) {
        var mean = x
        mean.addScaled(sde.reverseDrift(x, score: score, t: [Double](repeating: t, count: x.shape[0])), Float(-h))
        var out = mean
        out.addScaled(z, Float(sde.diffusion(t) * h.squareRoot()))
        return (out, mean)
    }
}

/// The predictors of the predictor–corrector sampler, by name (the `predictor` parameter of `pc`).
public enum Predictors {
    public static let all: [any Predictor] = [ReverseDiffusionPredictor(), EulerMaruyamaPredictor()]
    public static var names: [String] { all.map(\.name) }
    public static func named(_ name: String) -> (any Predictor)? { all.first { $0.name == name } }
}
