import Foundation

/// DPM-Solver++ (Lu et al. 2022b), the multistep solver of the probability-flow ODE in the data-prediction
/// form, in the scaled variables of `DenoiserView` with λ = −log σ̃ and h = λᵢ₊₁ − λᵢ:
/// - 2M (their Algorithm 2): x̂ᵢ₊₁ = (σ̃ᵢ₊₁/σ̃ᵢ)x̂ᵢ − (e^{−h} − 1)·[(1 + 1/(2r))Dᵢ − 1/(2r)·Dᵢ₋₁], r = hᵢ₋₁/hᵢ;
/// - 3M: the third-order multistep update with the exact φ₂ = (e^{−h} − 1)/h + 1 and φ₃ = φ₂/h − ½ and the
///   first and second divided differences of the last three denoised estimates (as k-diffusion writes it).
///
/// With η > 0 each step is that of the SDE solver (SDE-DPM-Solver++, their §5, for η = 1; k-diffusion's 2M and
/// 3M SDE samplers for any η): it keeps e^{−ηh} of the noise x̂ᵢ − Dᵢ carries and draws the rest afresh,
/// x̂ᵢ₊₁ = (σ̃ᵢ₊₁/σ̃ᵢ)e^{−ηh}x̂ᵢ + (1 − e^{−(1+η)h})Dᵢ + (the multistep terms with h(1 + η) for h)
/// + σ̃ᵢ₊₁√(1 − e^{−2ηh})·z. Whatever η, a state x̂ᵢ = D + σ̃ᵢz′ goes to D + σ̃ᵢ₊₁z″ while D stays fixed. η = 1
/// is the reverse SDE (at first order the ancestral DDPM step), larger η renoises more and so corrects more of
/// the network's errors; η = 0 is the ODE solver above. As D changes along the path, the multistep terms take
/// part of the noise drawn one step earlier for that change: at few steps the samples come out a little wide
/// (with an exact Gaussian score and σ_max = 22, 3M gives a tenth too much variance at 20 steps with η = 2,
/// within noise with η = 1), which vanishes as the steps shrink (FastSamplerTests).
///
/// Each starts with lower orders until it has the history, takes one evaluation per step on the Karras
/// schedule, and lands on the denoised estimate at its last noise level.
public struct DPMSolverPlusPlus: Sampler {
    public var view: DenoiserView
    public var steps: Int
    public var order: Int
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var rho: Double
    public var eta: Double

    public init(view: DenoiserView, steps: Int, order: Int = 2, sigmaMin: Double, sigmaMax: Double, rho: Double = 7,
                eta: Double = 0) {
        precondition(steps >= 1 && (2...3).contains(order) && sigmaMin > 0 && sigmaMax > sigmaMin && eta >= 0)
        self.eta = eta
        self.view = view
        self.steps = steps
        self.order = order
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.rho = rho
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let view = self.view.restricted(first: first, count: count)
        var x = view.priorSample([count] + shape, streams: &streams)
        let tape = Tape(recording: false)
        let sigmas = karrasSigmas(count: steps, sigmaMin: sigmaMin, sigmaMax: sigmaMax, rho: rho)
        var history: [(denoised: Tensor, h: Double)] = []  // most recent first
        for i in 0..<steps {
            try control?.check()
            let sigma = sigmas[i], next = sigmas[i + 1]
            let denoised = view.denoise(score, x, sigma: sigma, tape: tape)
            if next == 0 {
                x = denoised
            } else {
                let h = Foundation.log(sigma / next)
                let hEta = h * (1 + eta)
                let decay = next / sigma * Foundation.exp(-eta * h)  // e^{−h(1+η)}
                var stepped = x * Float(decay)
                if order == 2, let last = history.first {
                    let r = last.h / h
                    stepped.addScaled(denoised, Float((1 - decay) * (1 + 1 / (2 * r))))
                    stepped.addScaled(last.denoised, Float(-(1 - decay) / (2 * r)))
                } else {
                    stepped.addScaled(denoised, Float(1 - decay))
                    let phi2 = Foundation.expm1(-hEta) / hEta + 1
                    if order == 3, history.count >= 2 {
                        let (d1, h1) = history[0], (d2, h2) = history[1]
                        let r0 = h1 / h, r1 = h2 / h
                        // d1_0 = (D − D₁)/r0, d1_1 = (D₁ − D₂)/r1, d1 = d1_0 + (d1_0 − d1_1)·r0/(r0 + r1),
                        // d2 = (d1_0 − d1_1)/(r0 + r1); x += φ₂·d1 − φ₃·d2.
                        let phi3 = phi2 / hEta - 0.5
                        let a = phi2 * (1 + r0 / (r0 + r1)) - phi3 / (r0 + r1)   // weight of d1_0
                        let b = -phi2 * r0 / (r0 + r1) + phi3 / (r0 + r1)        // weight of d1_1
                        stepped.addScaled(denoised, Float(a / r0))
                        stepped.addScaled(d1, Float(-a / r0 + b / r1))
                        stepped.addScaled(d2, Float(-b / r1))
                    } else if order == 3, let (d1, h1) = history.first {
                        let r = h1 / h
                        stepped.addScaled(denoised, Float(phi2 / r))
                        stepped.addScaled(d1, Float(-phi2 / r))
                    }
                }
                if eta > 0 {
                    stepped.addScaled(streams.gaussian([count] + shape), Float(next * (-Foundation.expm1(-2 * eta * h)).squareRoot()))
                }
                x = stepped
                history.insert((denoised, h), at: 0)
                if history.count > 2 { history.removeLast() }
            }
            control?.report(first: first, rows: count, fraction: Double(i + 1) / Double(steps))
            control?.preview(first: first, step: i + 1, total: steps) { [x] in (view.data(x, sigma: next), denoised) }
        }
        return SampleBatch(x: x, nfe: steps)
    }
}

extension DPMSolverPlusPlus {
    /// The noise level σ̃ at which the default run stops: on the VE defaults ε ≈ 0.15 (σ ≈ 0.03 on MNIST, where
    /// the last steps carry more of the network's errors at small noise than they add detail).
    public static let defaultStop = 0.03

    public static let entry = SamplerEntry(
        name: "dpm_solver", summary: "DPM-Solver++ multistep (3M, or 2M), one evaluation per step on the Karras σ schedule; the SDE solver with eta > 0",
        // The default of every model, as the SDE solver stopping at σ̃ = 0.03: on the 2-D sets 3M with η = 1, the
        // best of the fast samplers at 10 and 20 evaluations; on MNIST 2M with η = 2, within 1.03× of
        // predictor–corrector's Fréchet distance at 20 evaluations and 1.16× at 10, where 3M with η = 2 (0.98×
        // at 20) breaks down (docs/benchmarks.md).
        families: [.sde], defaultFor: [.points, .images],
        parameters: [
            DenoiserParameters.budget(default: 20),
            Parameter("order", .integer(2...3), default: .byKind(points: .value(3), images: .value(2)),
                      help: "2 (DPM-Solver++ 2M; steadier at few steps with η = 2) or 3 (3M)"),
            DenoiserParameters.rho,
            SamplerParameters.epsEnd.with(default: .derived("the time at which σ̃ falls to 0.03 (0.15 for the VE defaults)") { space in
                .number(space.schedule.sde.map { max(DenoiserView(sde: $0).time(sigma: defaultStop), 1e-3) } ?? 1e-3)
            }),
            Parameter("eta", .number(.closed(0, 10)), default: .byKind(points: .value(1), images: .value(2)),
                      help: "η: 0 the ODE solver; more than 0 the SDE solver, which keeps e^(−ηh) of the noise each step and draws the rest afresh (1: the reverse SDE)"),
        ],
        make: { v, space in
            let view = DenoiserView(sde: space.schedule.sde!)
            let range = DenoiserParameters.range(view, v)
            return DPMSolverPlusPlus(view: view, steps: v.int("steps"), order: v.int("order"), sigmaMin: range.min,
                                     sigmaMax: range.max, rho: v.double("rho"), eta: v.double("eta"))
        })
}

extension DPMSolverPlusPlus: InpaintingSampler {
    /// The sampler holding known values while it fills in the rest (see `DenoiserView.known`).
    public func inpainting(_ known: Inpainting) -> DPMSolverPlusPlus {
        var s = self
        s.view.known = known
        return s
    }
}
