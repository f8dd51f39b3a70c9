/// A sampler named and parametrised as a request names it, validated against a model.
///
/// | name | for | parameters |
/// | --- | --- | --- |
/// | `em` | SDE models | steps, eps_end, denoise |
/// | `reverse_diffusion` | SDE models | steps, eps_end, denoise |
/// | `pc` | SDE models | steps, snr, corrector_steps, predictor (em, reverse_diffusion), eps_end, denoise |
/// | `ode` | SDE models | solver (rk45, rk4, heun, euler), rtol, atol (rk45), steps (fixed), eps_end, denoise |
/// | `annealed_langevin` | NCSN models | steps (per level), step_size, denoise |
/// | `langevin` | every model | steps, step_size, init_std |
public struct SamplerSpec: Sendable, Equatable, Codable {
    public enum Name: String, Sendable, Codable, CaseIterable {
        case em, reverseDiffusion = "reverse_diffusion", pc, ode, annealedLangevin = "annealed_langevin", langevin
    }

    public var name: Name
    public var steps: Int?
    public var snr: Double?
    public var correctorSteps: Int?
    public var predictor: String?
    public var solver: String?
    public var rtol: Double?
    public var atol: Double?
    public var epsEnd: Double?
    public var stepSize: Double?
    public var initStd: Double?
    public var denoise: Bool?

    public init(name: Name) { self.name = name }

    enum CodingKeys: String, CodingKey {
        case name = "sampler", steps, snr, correctorSteps = "corrector_steps", predictor, solver, rtol, atol
        case epsEnd = "eps_end", stepSize = "step_size", initStd = "init_std", denoise
    }

    /// Samplers a model supports, the first being its default.
    public static func supported(by model: ScoreModel) -> [Name] {
        switch model.schedule {
        case .ve, .vp, .subVP: return [.pc, .em, .reverseDiffusion, .ode, .langevin]
        case .ladder: return [.annealedLangevin, .langevin]
        case .none, .fixed: return [.langevin]
        }
    }

    static let maxSteps = 100_000

    /// Builds the sampler, checking every parameter (errors name the field).
    public func make(for model: ScoreModel) throws -> any Sampler {
        typealias Invalid = TrainingRecipe.Invalid
        let supported = SamplerSpec.supported(by: model)
        guard supported.contains(name) else {
            throw Invalid("sampler", "\(name.rawValue) does not apply to a \(model.schedule.name) model (use one of \(supported.map(\.rawValue).joined(separator: ", ")))")
        }
        func check(_ ok: Bool, _ field: String, _ message: String) throws { if !ok { throw Invalid(field, message) } }
        if let s = steps { try check((1...SamplerSpec.maxSteps).contains(s), "steps", "must be between 1 and \(SamplerSpec.maxSteps)") }
        if let v = snr { try check(v > 0 && v <= 10, "snr", "must be in (0, 10]") }
        if let v = correctorSteps { try check((1...100).contains(v), "corrector_steps", "must be between 1 and 100") }
        if let v = rtol { try check(v >= 1e-9 && v <= 0.1, "rtol", "must be in [1e-9, 0.1]") }
        if let v = atol { try check(v >= 1e-9 && v <= 0.1, "atol", "must be in [1e-9, 0.1]") }
        if let v = stepSize { try check(v > 0 && v <= 10, "step_size", "must be in (0, 10]") }
        if let v = initStd { try check(v > 0 && v <= 1e4, "init_std", "must be in (0, 10000]") }
        let inapplicable: [(String, Bool)] = [
            ("snr", snr != nil && name != .pc), ("corrector_steps", correctorSteps != nil && name != .pc),
            ("predictor", predictor != nil && name != .pc), ("solver", solver != nil && name != .ode),
            ("rtol", rtol != nil && name != .ode), ("atol", atol != nil && name != .ode),
            ("eps_end", epsEnd != nil && ![.em, .reverseDiffusion, .pc, .ode].contains(name)),
            ("step_size", stepSize != nil && ![.langevin, .annealedLangevin].contains(name)),
            ("init_std", initStd != nil && name != .langevin),
        ]
        if let (field, _) = inapplicable.first(where: { $0.1 }) {
            throw Invalid(field, "does not apply to sampler \(name.rawValue)")
        }
        switch name {
        case .em, .reverseDiffusion, .pc, .ode:
            let sde = model.schedule.sde!
            let eps = epsEnd ?? 1e-3
            // Images end with the Tweedie denoising step by default (the noise left at eps_end is visible).
            let denoise = self.denoise ?? (model.sampleShape.count > 1)
            try check(eps > 0 && eps < sde.T / 2, "eps_end", "must be in (0, \(sde.T / 2))")
            if name == .ode {
                let solverName = solver ?? "rk45"
                let tableau: ButcherTableau
                switch solverName {
                case "rk45": tableau = .dormandPrince
                case "rk4": tableau = .rk4
                case "heun": tableau = .heun
                case "euler": tableau = .euler
                default: throw Invalid("solver", "must be one of rk45, rk4, heun, euler")
                }
                if tableau.e != nil {
                    try check(steps == nil, "steps", "does not apply to the adaptive rk45 solver (set rtol, atol)")
                    return ProbabilityFlowODESampler(
                        sde: sde, solver: ODESolver(tableau: tableau, method: .adaptive(rtol: rtol ?? 1e-5, atol: atol ?? 1e-5)),
                        epsilon: eps, denoise: denoise)
                }
                try check(rtol == nil && atol == nil, rtol != nil ? "rtol" : "atol", "applies to the rk45 solver only")
                return ProbabilityFlowODESampler(sde: sde, solver: ODESolver(tableau: tableau, method: .fixed(steps: steps ?? 100)),
                                                 epsilon: eps, denoise: denoise)
            }
            let predictorKind: any Predictor
            switch (name, predictor ?? "reverse_diffusion") {
            case (.em, _): predictorKind = EulerMaruyamaPredictor()
            case (.reverseDiffusion, _): predictorKind = ReverseDiffusionPredictor()
            case (_, "em"), (_, "euler_maruyama"): predictorKind = EulerMaruyamaPredictor()
            case (_, "reverse_diffusion"): predictorKind = ReverseDiffusionPredictor()
            default: throw Invalid("predictor", "must be em or reverse_diffusion")
            }
            let corrector = name == .pc ? LangevinCorrector(snr: snr ?? 0.16, steps: correctorSteps ?? 1) : nil
            return PredictorCorrectorSampler(sde: sde, predictor: predictorKind, corrector: corrector,
                                             steps: steps ?? (name == .pc ? 500 : 1000), epsilon: eps,
                                             denoise: denoise)
        case .annealedLangevin:
            guard case .ladder(let ladder) = model.schedule else { preconditionFailure() }
            return AnnealedLangevinDynamics(ladder: ladder, stepsPerLevel: steps ?? 100, epsilon: stepSize ?? 2e-5,
                                            denoise: denoise ?? true)
        case .langevin:
            try check(denoise == nil || denoise == false, "denoise", "does not apply to sampler langevin")
            // Start from the widest noise level of the model, or a unit Gaussian.
            let start: Double
            switch model.schedule {
            case .ve(let s): start = s.priorStd
            case .ladder(let l): start = l.sigmaMax
            default: start = 1
            }
            // Noise-conditioned models are read at their smallest noise level.
            let t: Double
            switch model.schedule {
            case .ve, .vp, .subVP: t = epsEnd ?? 1e-3
            default: t = 0
            }
            return LangevinDynamics(stepSize: stepSize ?? 1e-3, steps: steps ?? 1000,
                                    start: .gaussian(std: Float(initStd ?? start)), t: t)
        }
    }
}
