import Foundation

/// A model of an SDE seen as a denoiser in the scaled variables of Karras et al. (2022, EDM): with
/// x_t = m(t)x₀ + σ(t)z, the scaled state x̂ = x/m(t) = x₀ + σ̃z has the VE form with noise level
/// σ̃(t) = σ(t)/m(t), and the probability-flow ODE becomes dx̂/dσ̃ = (x̂ − D(x̂; σ̃))/σ̃ with the denoiser
/// D(x̂; σ̃) = E[x₀ | x̂] = x̂ + σ̃² ∇_x̂ log p̂, which Tweedie's formula gives from the model's score at
/// x = m(t)x̂, t = t(σ̃). VE is its own scaled form (m = 1); for VP the scaling is m(t) = √ᾱ.
public struct DenoiserView: Sendable {
    public let sde: any SDE
    /// Known values (inpainting, imputation, colorization), for the rows of one batch (`restricted`): the
    /// denoiser of a known coordinate is its value, D = y exactly, so that every solver of the ODE
    /// dx̂/dσ̃ = (x̂ − D)/σ̃ carries it along its perturbation path x̂ = y + σ̃z (linear in σ̃, which the
    /// solvers here integrate exactly), and stochastic steps keep it there with fresh noise; the unknown
    /// coordinates follow the network's denoiser given the known ones.
    public var known: Inpainting? = nil

    public init(sde: any SDE) { self.sde = sde }

    /// The view for rows first ..< first + count of a run (their own known values when each row has its own).
    public func restricted(first: Int, count: Int) -> DenoiserView {
        var v = self
        v.known = known?.rows(first, count)
        return v
    }

    /// σ̃(t) = σ(t)/m(t).
    public func sigma(_ t: Double) -> Double { sde.std(t) / sde.meanCoefficient(t) }

    /// The time t ∈ [0, T] with σ̃(t) = σ̃ (σ̃ increases with t; by bisection, to the last bit of t). Beyond
    /// the range, the nearest end.
    public func time(sigma target: Double) -> Double {
        var lo = 0.0, hi = sde.T
        if target <= sigma(lo) { return lo }
        if target >= sigma(hi) { return hi }
        for _ in 0..<80 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if sigma(mid) < target { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// D(x̂; σ̃) for a batch of scaled states at one noise level (one network evaluation).
    public func denoise(_ score: any ScoreFunction, _ xhat: Tensor, sigma: Double, tape: Tape) -> Tensor {
        let t = time(sigma: sigma), m = sde.meanCoefficient(t)
        let x = xhat * Float(m)
        let s = evaluateScore(score, x, [Double](repeating: t, count: xhat.shape[0]), tape: tape)
        let d = tweedieDenoise(x, score: s, t: t, perturbation: sde)
        return known?.impose(on: d) ?? d
    }

    /// The state in the data's space, x = m(t)·x̂ at σ̃ (the denoised estimate at σ̃ = 0).
    public func data(_ xhat: Tensor, sigma: Double) -> Tensor {
        sigma == 0 ? xhat : xhat * Float(sde.meanCoefficient(time(sigma: sigma)))
    }

    /// Prior draws in the scaled variables: x_T from the SDE's prior, divided by m(T).
    /// With known values, their coordinates start on their path at T, y + σ̃(T)·z (z drawn after the prior).
    public func priorSample(_ shape: [Int], streams: inout RowStreams) -> Tensor {
        let x = sde.priorSample(shape, streams: &streams) * Float(1 / sde.meanCoefficient(sde.T))
        guard let known else { return x }
        let z = streams.gaussian(shape), s = Float(sigma(sde.T))
        return known.replacing(x) { base, k, at in known.data.scalars[base + k] + s * z.scalars[at] }
    }
}

/// The noise levels of Karras et al. (2022, eq. 5): σᵢ = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ for
/// i = 0…N−1, then σ_N = 0. ρ = 7 spends the steps where the ODE's curvature is, near σ_min; ρ = 1 is uniform
/// in σ, and large ρ approaches uniform in log σ.
public func karrasSigmas(count n: Int, sigmaMin: Double, sigmaMax: Double, rho: Double) -> [Double] {
    precondition(n >= 1 && sigmaMin > 0 && sigmaMax >= sigmaMin && rho > 0)
    if n == 1 { return [sigmaMax, 0] }
    let a: Double = Foundation.pow(sigmaMax, 1 / rho), b: Double = Foundation.pow(sigmaMin, 1 / rho)
    var sigmas: [Double] = []
    for i in 0..<n {
        let u = Double(i) / Double(n - 1)
        sigmas.append(Foundation.pow(a + u * (b - a), rho))
    }
    sigmas[0] = sigmaMax  // the ends exactly, not through the powers' rounding
    sigmas[n - 1] = sigmaMin
    return sigmas + [0]
}

/// Declarations the denoiser-view samplers share.
public enum DenoiserParameters {
    public static let rho = Parameter(
        "rho", .number(.above(0, upTo: 100)), default: .value(7),
        help: "ρ of the Karras noise schedule (7: steps concentrated at small noise; 1: uniform in σ)")

    /// The evaluation budget: `steps` is the number of network evaluations, and the samplers report exactly
    /// the number they make.
    public static func budget(default d: Int) -> Parameter {
        SamplerParameters.steps(default: d, help: "network evaluations (the exact NFE reported may be one less for Heun's method)")
    }

    /// σ̃ from the SDE's prior end to its value at ε (eps_end), for a schedule.
    static func range(_ view: DenoiserView, _ v: ParameterValues) -> (min: Double, max: Double) {
        (view.sigma(v.double("eps_end")), view.sigma(view.sde.T))
    }
}
