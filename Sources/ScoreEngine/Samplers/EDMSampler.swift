import Foundation

/// The probability-flow ODE in the denoiser view (Karras et al. 2022), dx̂/dσ̃ = (x̂ − D(x̂; σ̃))/σ̃, on the
/// Karras σ schedule from σ̃(T) to σ̃(ε) and then to 0 (the last step lands on D, the denoised estimate):
/// - Euler (first order; Algorithm 1 without its correction): one evaluation per step;
/// - Heun (second order; Algorithm 1): a trapezoidal correction at the next level, except the last step to
///   σ = 0, so N steps take 2N − 1 evaluations;
/// - the stochastic variant (Algorithm 2): before each step within [S_tmin, S_tmax] the noise is raised from
///   σᵢ to σ̂ = σᵢ(1 + γ), γ = min(S_churn/N, √2 − 1), by fresh noise scaled by S_noise, then a Heun step from σ̂.
/// The state starts from the SDE's prior, scaled (`DenoiserView`). `evaluations` is the budget: the number of
/// steps is the largest whose evaluations fit in it.
public struct EDMSampler: Sampler {
    public var view: DenoiserView
    public var evaluations: Int
    public var secondOrder: Bool
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var rho: Double
    public var churn: Churn?

    /// The stochastic variant's settings (S_churn, S_tmin, S_tmax, S_noise).
    public struct Churn: Sendable, Equatable {
        public var amount: Double
        public var tmin: Double
        public var tmax: Double
        public var noise: Double
        public init(amount: Double, tmin: Double, tmax: Double, noise: Double) {
            self.amount = amount
            self.tmin = tmin
            self.tmax = tmax
            self.noise = noise
        }
    }

    public init(view: DenoiserView, evaluations: Int, secondOrder: Bool, sigmaMin: Double, sigmaMax: Double, rho: Double = 7,
                churn: Churn? = nil) {
        precondition(evaluations >= 1 && sigmaMin > 0 && sigmaMax > sigmaMin)
        self.view = view
        self.evaluations = evaluations
        self.secondOrder = secondOrder
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.rho = rho
        self.churn = churn
    }

    /// Steps N: Euler makes one evaluation per step, Heun 2N − 1.
    public var steps: Int { secondOrder ? max(1, (evaluations + 1) / 2) : evaluations }

    public var sigmas: [Double] { karrasSigmas(count: steps, sigmaMin: sigmaMin, sigmaMax: sigmaMax, rho: rho) }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let full = [count] + shape
        let view = self.view.restricted(first: first, count: count)
        var x = view.priorSample(full, streams: &streams)
        let tape = Tape(recording: false)
        let sigmas = self.sigmas, n = sigmas.count - 1
        var nfe = 0
        for i in 0..<n {
            try control?.check()
            var sigma = sigmas[i]
            let next = sigmas[i + 1]
            if let churn, churn.amount > 0, sigma >= churn.tmin, sigma <= churn.tmax {
                // Raise the noise level, staying within the range the model was trained on.
                let gamma = max(0, min(churn.amount / Double(n), 2.squareRoot() - 1, sigmaMax / sigma - 1))
                let raised = sigma * (1 + gamma)
                x.addScaled(streams.gaussian(full), Float((raised * raised - sigma * sigma).squareRoot() * churn.noise))
                sigma = raised
            }
            let denoised = view.denoise(score, x, sigma: sigma, tape: tape)
            nfe += 1
            if next == 0 {
                x = denoised
            } else {
                // x + (σ' − σ)(x − D)/σ
                var stepped = x * Float(next / sigma)
                stepped.addScaled(denoised, Float(1 - next / sigma))
                if secondOrder {
                    let corrected = view.denoise(score, stepped, sigma: next, tape: tape)
                    nfe += 1
                    // x + (σ' − σ)·½[(x − D)/σ + (x' − D')/σ']
                    let h = next - sigma
                    var average = x * Float(1 + 0.5 * h / sigma)
                    average.addScaled(denoised, Float(-0.5 * h / sigma))
                    average.addScaled(stepped, Float(0.5 * h / next))
                    average.addScaled(corrected, Float(-0.5 * h / next))
                    stepped = average
                }
                x = stepped
            }
            control?.report(first: first, rows: count, fraction: Double(i + 1) / Double(n))
            control?.preview(first: first, step: i + 1, total: n) { [x] in (view.data(x, sigma: next), denoised) }
        }
        return SampleBatch(x: x, nfe: nfe)
    }
}

extension EDMSampler {
    static func make(_ v: ParameterValues, _ space: any SampleSpace, secondOrder: Bool, churn: Churn? = nil) -> EDMSampler {
        let view = DenoiserView(sde: space.schedule.sde!)
        let range = DenoiserParameters.range(view, v)
        return EDMSampler(view: view, evaluations: v.int("steps"), secondOrder: secondOrder, sigmaMin: range.min,
                          sigmaMax: range.max, rho: v.double("rho"), churn: churn)
    }

    /// Euler's method on the Karras schedule.
    public static let euler = SamplerEntry(
        name: "euler", summary: "the probability-flow ODE by Euler's method on the Karras σ schedule (EDM's denoiser view)",
        families: [.sde], parameters: [DenoiserParameters.budget(default: 20), DenoiserParameters.rho, SamplerParameters.epsEnd],
        make: { v, space in make(v, space, secondOrder: false) })

    /// Heun's second-order method on the Karras schedule (EDM's Algorithm 1).
    public static let heun = SamplerEntry(
        name: "heun", summary: "the probability-flow ODE by Heun's second-order method on the Karras σ schedule (EDM, Algorithm 1)",
        families: [.sde], parameters: [DenoiserParameters.budget(default: 20), DenoiserParameters.rho, SamplerParameters.epsEnd],
        make: { v, space in make(v, space, secondOrder: true) })

    /// EDM's stochastic sampler (Algorithm 2), its defaults those of their ImageNet-64 setting.
    public static let stochastic = SamplerEntry(
        name: "edm", summary: "EDM's stochastic sampler: Heun steps with noise added back (S_churn) within [S_tmin, S_tmax] (Algorithm 2)",
        families: [.sde],
        parameters: [
            DenoiserParameters.budget(default: 40), DenoiserParameters.rho, SamplerParameters.epsEnd,
            Parameter("s_churn", .number(.closed(0, 1000)), default: .value(40), help: "S_churn: how much noise is added back over the run"),
            Parameter("s_tmin", .number(.closed(0, 1e6)), default: .value(0.05), help: "S_tmin: the smallest σ̃ at which noise is added"),
            Parameter("s_tmax", .number(.closed(0, 1e6)), default: .value(50), help: "S_tmax: the largest σ̃ at which noise is added"),
            Parameter("s_noise", .number(.closed(0.5, 2)), default: .value(1.003), help: "S_noise: the scale of the added noise"),
        ],
        check: { v, _ in
            if v.double("s_tmax") < v.double("s_tmin") { throw InvalidParameter("s_tmax", "must be at least s_tmin") }
        },
        make: { v, space in
            make(v, space, secondOrder: true, churn: Churn(amount: v.double("s_churn"), tmin: v.double("s_tmin"),
                                                           tmax: v.double("s_tmax"), noise: v.double("s_noise")))
        })
}

extension EDMSampler: InpaintingSampler {
    /// The sampler holding known values while it fills in the rest (see `DenoiserView.known`).
    public func inpainting(_ known: Inpainting) -> EDMSampler {
        var s = self
        s.view.known = known
        return s
    }
}
