import Foundation

/// DPM-Solver++ (Lu et al. 2022b), the multistep solver of the probability-flow ODE in the data-prediction
/// form, in the scaled variables of `DenoiserView` with λ = −log σ̃ and h = λᵢ₊₁ − λᵢ:
/// - 2M (their Algorithm 2): x̂ᵢ₊₁ = (σ̃ᵢ₊₁/σ̃ᵢ)x̂ᵢ − (e^{−h} − 1)·[(1 + 1/(2r))Dᵢ − 1/(2r)·Dᵢ₋₁], r = hᵢ₋₁/hᵢ;
/// - 3M: the third-order multistep update with the exact φ₂ = (e^{−h} − 1)/h + 1 and φ₃ = φ₂/h − ½ and the
///   first and second divided differences of the last three denoised estimates (as k-diffusion writes it).
/// Each starts with lower orders until it has the history, takes one evaluation per step on the Karras
/// schedule, and lands on the denoised estimate at σ = 0.
public struct DPMSolverPlusPlus: Sampler {
    /// The default sampler of point models: the best of the fast ones at about 20 evaluations (docs/benchmarks.md).
    public var view: DenoiserView
    public var steps: Int
    public var order: Int
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var rho: Double

    public init(view: DenoiserView, steps: Int, order: Int = 2, sigmaMin: Double, sigmaMax: Double, rho: Double = 7) {
        precondition(steps >= 1 && (2...3).contains(order) && sigmaMin > 0 && sigmaMax > sigmaMin)
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
                let decay = next / sigma  // e^{−h}
                var stepped = x * Float(decay)
                if order == 2, let last = history.first {
                    let r = last.h / h
                    stepped.addScaled(denoised, Float((1 - decay) * (1 + 1 / (2 * r))))
                    stepped.addScaled(last.denoised, Float(-(1 - decay) / (2 * r)))
                } else {
                    stepped.addScaled(denoised, Float(1 - decay))
                    let phi2 = Foundation.expm1(-h) / h + 1
                    if order == 3, history.count >= 2 {
                        let (d1, h1) = history[0], (d2, h2) = history[1]
                        let r0 = h1 / h, r1 = h2 / h
                        // d1_0 = (D − D₁)/r0, d1_1 = (D₁ − D₂)/r1, d1 = d1_0 + (d1_0 − d1_1)·r0/(r0 + r1),
                        // d2 = (d1_0 − d1_1)/(r0 + r1); x += φ₂·d1 − φ₃·d2.
                        let phi3 = phi2 / h - 0.5
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
    public static let entry = SamplerEntry(
        name: "dpm_solver", summary: "DPM-Solver++ multistep (3M, or 2M), one evaluation per step on the Karras σ schedule",
        families: [.sde], defaultFor: [.points],
        parameters: [
            DenoiserParameters.budget(default: 20),
            Parameter("order", .integer(2...3), default: .value(3),
                      help: "2 (DPM-Solver++ 2M) or 3 (3M, the more accurate at 20 evaluations on this project's models)"),
            DenoiserParameters.rho, SamplerParameters.epsEnd,
        ],
        make: { v, space in
            let view = DenoiserView(sde: space.schedule.sde!)
            let range = DenoiserParameters.range(view, v)
            return DPMSolverPlusPlus(view: view, steps: v.int("steps"), order: v.int("order"), sigmaMin: range.min,
                                     sigmaMax: range.max, rho: v.double("rho"))
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
