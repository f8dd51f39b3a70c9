/// Sampling by the probability-flow ODE (Song et al. 2021, eq. 13): dx/dt = f(x, t) − ½ g(t)² s_θ(x, t),
/// integrated from a prior draw at T down to ε. Deterministic given the prior draw; adaptive Dormand–Prince
/// 5(4) by default, or a fixed-step method. `denoise` adds Tweedie's step at ε.
public struct ProbabilityFlowODESampler: Sampler {
    public var sde: any SDE
    public var solver: ODESolver
    public var epsilon: Double
    public var denoise: Bool
    /// Latents x(T) to decode, one per row of the run ([rows] + the sample shape), instead of prior draws.
    public var latents: Tensor? = nil
    /// Known values held while the rest is integrated (see `inpainting(_:)`).
    public var inpainting: Inpainting? = nil

    public init(sde: any SDE, solver: ODESolver = ODESolver(), epsilon: Double = 1e-3, denoise: Bool = false) {
        precondition(epsilon > 0 && epsilon < sde.T)
        self.sde = sde
        self.solver = solver
        self.epsilon = epsilon
        self.denoise = denoise
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        var x0 = latents?.rows(first..<(first + count)) ?? sde.priorSample([count] + shape, streams: &streams)
        let known = inpainting?.rows(first, count)
        // Inpainting: the known coordinates follow the path m(t)·data + σ(t)·z (one z per row, drawn once), whose
        // derivative, m'(t)·data + σ'(t)·z with m' = a·m and σ' = (2aσ² + g²)/(2σ) (the perturbation's own
        // ODEs: a the drift coefficient, g the diffusion), replaces their drift; the others follow the flow.
        let z = known.map { _ in streams.gaussian([count] + shape) }
        if let known, let z {
            let m = Float(sde.meanCoefficient(sde.T)), s = Float(sde.std(sde.T))
            x0 = known.replacing(x0) { base, k, at in m * known.data.scalars[base + k] + s * z.scalars[at] }
        }
        let tape = Tape(recording: false)
        let sde = self.sde
        var (x, nfe) = try solver.solve(x0, from: sde.T, to: epsilon, progress: { p in
            control?.report(first: first, rows: count, fraction: p.fraction)
            // Previews show the state (each row at its own time with adaptive steps, whose number is known only at
            // the end: until then `total` is the estimate from the fraction covered so far).
            let total = p.steps ?? (p.finished ? p.step : max(p.step + 1, Int((Double(p.step) / max(p.fraction, 1e-6)).rounded())))
            control?.preview(first: first, step: p.step, total: total) { (x: p.state, denoised: nil) }
        }) { x, t, rows in
            try control?.check()
            let drift = sde.probabilityFlow(x, score: evaluateScore(rows.count == count ? score : score.restricted(to: rows), x, t, tape: tape), t: t)
            guard let known, let z else { return drift }
            let part = rows.count == count ? known : Inpainting(data: known.perRow ? known.data.rows(at: rows) : known.data,
                                                                mask: known.perRow ? known.mask.rows(at: rows) : known.mask,
                                                                perRow: known.perRow, channelTransform: known.channelTransform)
            let zs = rows.count == count ? z : z.rows(at: rows)
            return part.replacing(drift) { base, k, at in
                let row = at / max(x.count / max(x.shape[0], 1), 1), tv = t[row]
                let a = sde.driftCoefficient(tv), g = sde.diffusion(tv), m = sde.meanCoefficient(tv), s = sde.std(tv)
                return Float(a * m) * part.data.scalars[base + k] + Float((2 * a * s * s + g * g) / (2 * s)) * zs.scalars[at]
            }
        }
        if denoise {
            let s = evaluateScore(score, x, [Double](repeating: epsilon, count: count), tape: tape)
            x = tweedieDenoise(x, score: s, t: epsilon, perturbation: sde)
            nfe += 1
        }
        if let known { x = known.impose(on: x) }
        return SampleBatch(x: x, nfe: nfe)
    }
}

extension ProbabilityFlowODESampler: InpaintingSampler {
    /// The sampler holding known values (inpainting, imputation, colorization) while it integrates the rest.
    public func inpainting(_ known: Inpainting) -> ProbabilityFlowODESampler {
        var s = self
        s.inpainting = known
        return s
    }
}

extension ProbabilityFlowODESampler {
    /// The sampler decoding given latents: x(T) of row i is `latents[i]` (Song et al. 2021, §4.3: the
    /// probability-flow ODE is a bijection between data and latents).
    public func decoding(_ latents: Tensor) -> ProbabilityFlowODESampler {
        var s = self
        s.latents = latents
        return s
    }

    static let solvers: [String: ButcherTableau] = ["rk45": .dormandPrince, "rk4": .rk4, "heun": .heun, "euler": .euler]
    static let fixedStep: [JSONValue] = ["rk4", "heun", "euler"]
    static func tolerance(_ key: String, _ help: String) -> Parameter {
        Parameter(key, .number(.closed(1e-9, 0.1)), default: .value(1e-5), help: help, when: .init("solver", in: ["rk45"]))
    }

    /// The probability-flow ODE (eq. 13) integrated from the prior at T to ε.
    public static let entry = SamplerEntry(
        name: "ode", summary: "the probability-flow ODE, adaptive Dormand–Prince 5(4) or a fixed-step Runge–Kutta method",
        families: [.sde],
        parameters: [
            Parameter("solver", .choice(["rk45", "rk4", "heun", "euler"]), default: .value("rk45"),
                      help: "rk45 (adaptive Dormand–Prince) or a fixed-step method"),
            tolerance("rtol", "relative tolerance of the adaptive solver"),
            tolerance("atol", "absolute tolerance of the adaptive solver"),
            SamplerParameters.steps(default: 100, help: "steps of the fixed-step solver", when: .init("solver", in: fixedStep)),
            SamplerParameters.epsEnd, SamplerParameters.denoise,
        ],
        make: { v, source in
            let tableau = solvers[v.string("solver")]!
            let method: ODESolver.Method = tableau.e != nil
                ? .adaptive(rtol: v.double("rtol"), atol: v.double("atol")) : .fixed(steps: v.int("steps"))
            return ProbabilityFlowODESampler(sde: source.schedule.sde!, solver: ODESolver(tableau: tableau, method: method),
                                             epsilon: v.double("eps_end"), denoise: v.bool("denoise"))
        })
}
