/// The reverse-diffusion predictor (Song et al. 2021, eq. 46): with the forward transition
/// x_t = α x_{t−h} + G z over the step, discretised as f = (α − 1)x, the reverse step is
/// x̄ = x − f + G² s(x, t), x = x̄ + G z. For VE this is the NCSN ladder step, for VP DDPM's ancestral one to
/// first order.
public struct ReverseDiffusionPredictor: Predictor {
    public init() {}
    public var name: String { "reverse_diffusion" }

    public func step(_ x: Tensor, score: Tensor, t: Double, h: Double, sde: any SDE, noise z: Tensor) -> (x: Tensor, mean: Tensor) {
        let (alpha, G) = sde.transition(from: t - h, to: t)
        var mean = x * Float(2 - alpha)
        mean.addScaled(score, Float(G * G))
        var out = mean
        out.addScaled(z, Float(G))
        return (out, mean)
    }
}
