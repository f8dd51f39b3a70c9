/// Gaussian random Fourier features of a scalar (Tancik et al. 2020; Song et al. 2021):
/// γ(t) = [sin(2π t W), cos(2π t W)] with fixed W ~ N(0, scale²), of size `features` (= 2·|W|).
/// The frequencies are a buffer (`name`, not trained), stored in checkpoints like PyTorch's `embed.W`.
public struct GaussianFourierProjection: Sendable {
    public let frequencies: Int
    public let features: Int

    public init(_ name: String, features: Int, scale: Float, in params: inout ParameterSet, rng: inout Philox) {
        precondition(features >= 2 && features % 2 == 0, "Fourier features must be a positive even number")
        self.features = features
        frequencies = params.add(name, rng.gaussian([features / 2]) * scale, trainable: false)
    }

    /// t of shape [n] → γ(t) of shape [n, features].
    public func callAsFunction(_ t: Var, _ p: [Var]) -> Var {
        let n = t.shape[0]
        let angle = t.reshaped([n, 1]) * p[frequencies].reshaped([1, features / 2]) * (2 * Float.pi)
        return Var.concatenate([angle.sin(), angle.cos()], axis: 1)
    }
}
