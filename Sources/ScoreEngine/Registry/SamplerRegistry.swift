import Synchronization

/// What a sampler is configured for: the perturbation a score was learned under and the shape of one sample.
public protocol SampleSpace: Sendable {
    var schedule: NoiseSchedule { get }
    var sampleShape: [Int] { get }
}

extension SampleSpace {
    public var dataKind: DataKind { DataKind(itemShape: sampleShape) }
}

/// What samplers draw from: a score s(x, t) in its sample space. Trained models are one; analytic targets
/// (the donut of the Langevin tutorial) are another.
public protocol ScoreSource: ScoreFunction, SampleSpace {}

/// A sample space given by its parts (a stored model's record, before its weights are loaded).
public struct DescribedSpace: SampleSpace {
    public let schedule: NoiseSchedule
    public let sampleShape: [Int]
    public init(schedule: NoiseSchedule, sampleShape: [Int]) { self.schedule = schedule; self.sampleShape = sampleShape }
}

/// A sampler as the registry knows it (score_sde registers its predictors and correctors the same way): its
/// name, the schedules it applies to, its parameters and its factory. From this one declaration come the
/// validation of `/samples` and of `scored sample`, a model's list of samplers and their defaults, the OpenAPI
/// description and the page's sampler form.
public struct SamplerEntry: Sendable {
    public let name: String
    public let summary: String
    /// The schedule families it samples (`sde` for the reverse-time SDE and the probability-flow ODE).
    public let families: [NoiseSchedule.Family]
    /// The data it is the default sampler for (among the models it applies to).
    public let defaultFor: [DataKind]
    public let parameters: [Parameter]
    /// Checks relations between values and the model, naming the field at fault.
    public let check: @Sendable (ParameterValues, any SampleSpace) throws -> Void
    public let make: @Sendable (ParameterValues, any SampleSpace) -> any Sampler

    public init(name: String, summary: String, families: [NoiseSchedule.Family], defaultFor: [DataKind] = [], parameters: [Parameter],
                check: @escaping @Sendable (ParameterValues, any SampleSpace) throws -> Void = { _, _ in },
                make: @escaping @Sendable (ParameterValues, any SampleSpace) -> any Sampler) {
        self.name = name
        self.summary = summary
        self.families = families
        self.defaultFor = defaultFor
        self.parameters = parameters
        self.check = check
        self.make = make
    }

    public func applies(to source: any SampleSpace) -> Bool { families.contains(source.schedule.family) }

    /// The sent parameters checked and completed with the defaults for `source`.
    public func resolve(_ given: [String: RawValue], for source: any SampleSpace) throws -> ParameterValues {
        guard applies(to: source) else {
            let usable = SamplerRegistry.supported(by: source).map(\.name).joined(separator: ", ")
            throw InvalidParameter("sampler", "\(name) does not apply to a model with schedule \(source.schedule.name) (use one of \(usable))")
        }
        let values = try parameters.resolve(given, kind: source.dataKind, source: source, owner: "sampler \(name)") { key in
            SamplerRegistry.isSamplerParameter(key)
                ? InvalidParameter.doesNotApply(key, "does not apply to sampler \(name)") : InvalidParameter.unknown(key)
        }
        try check(values, source)
        return values
    }
}

/// The registered samplers, in the order a model lists them (its default: its training preset's, else the one
/// declared the default for its kind of data, else the first that applies). Adding a sampler is a new file with its entry and one line in `builtin`.
public enum SamplerRegistry {
    public static let builtin: [SamplerEntry] = [
        DPMSolverPlusPlus.entry, EDMSampler.heun, EDMSampler.euler, EDMSampler.stochastic, DDIMSampler.entry,
        PredictorCorrectorSampler.pc, PredictorCorrectorSampler.em, PredictorCorrectorSampler.reverseDiffusion,
        ProbabilityFlowODESampler.entry, AnnealedLangevinDynamics.entry, LangevinDynamics.entry,
    ]

    private static let entries = Mutex<[SamplerEntry]>(builtin)

    public static var all: [SamplerEntry] { entries.withLock { $0 } }

    /// The sampler of conditional tasks (inpainting, imputation, colorization) that name none: predictor–corrector,
    /// whose Langevin corrector brings the unknown values to their conditional given the known ones (the others
    /// that can inpaint get its mean but not its spread: Tests/ScoreEngineTests/Guidance/ImputationTests.swift).
    public static let conditionalDefault = "pc"

    /// The sampler a conditional task that names none gets: `conditionalDefault` where it can inpaint, else the
    /// first that can.
    public static func defaultInpainter(for source: any SampleSpace) -> String? {
        let usable = inpainters(for: source)
        return usable.contains(conditionalDefault) ? conditionalDefault : usable.first
    }

    /// The samplers that can inpaint (hold known values while sampling the rest) for a source, in order.
    public static func inpainters(for source: any SampleSpace) -> [String] {
        supported(by: source).filter { e in
            (try? e.resolve([:], for: source)).map { e.make($0, source) is any InpaintingSampler } ?? false
        }.map(\.name)
    }
    public static var names: [String] { all.map(\.name) }
    public static func entry(_ name: String) -> SamplerEntry? { all.first { $0.name == name } }
    public static func supported(by source: any SampleSpace) -> [SamplerEntry] { all.filter { $0.applies(to: source) } }

    /// Every key some sampler declares.
    public static func isSamplerParameter(_ key: String) -> Bool { all.contains { $0.parameters.parameter(key) != nil } }

    /// Adds an entry (or replaces the one of the same name).
    public static func register(_ e: SamplerEntry) {
        entries.withLock { list in
            if let i = list.firstIndex(where: { $0.name == e.name }) { list[i] = e } else { list.append(e) }
        }
    }

    /// Removes an entry (tests that register their own).
    public static func unregister(_ name: String) { entries.withLock { $0.removeAll { $0.name == name } } }
}

/// Declarations several samplers share.
public enum SamplerParameters {
    /// The number of steps, with each sampler's own default and meaning.
    public static func steps(default d: Int, help: String, when condition: Parameter.Condition? = nil) -> Parameter {
        Parameter("steps", .integer(1...100_000), default: .value(.number(Double(d))), help: help, when: condition)
    }

    public static let epsEnd = Parameter(
        "eps_end", .number(.above(0, upTo: 0.5)), default: .value(1e-3),
        help: "the time ε at which the reverse process stops (the SDE's smallest noise level sampled)")

    public static let denoise = Parameter(
        "denoise", .boolean, default: .byKind(points: .value(false), images: .value(true)),
        help: "end with Tweedie's denoising step E[x₀ | x_ε] (one more evaluation)")

    public static func stepSize(_ d: Double, _ help: String) -> Parameter {
        Parameter("step_size", .number(.above(0, upTo: 10)), default: .value(.number(d)), help: help)
    }
}

extension SamplerRegistry {
    /// The samplers declared the default for a kind of data, in words ("dpm_solver for points and images", or
    /// "a for points, b for images").
    public static var declaredDefaults: String {
        let pairs = DataKind.allCases.compactMap { k in all.first { $0.defaultFor.contains(k) }.map { ($0.name, k.rawValue) } }
        var names: [String] = []
        for (name, _) in pairs where !names.contains(name) { names.append(name) }
        return names.map { name in "\(name) for " + pairs.filter { $0.0 == name }.map(\.1).joined(separator: " and ") }
            .joined(separator: ", ")
    }

    /// The sampler a request that names none gets: the preset's, when it applies, else the one that declares
    /// itself the default for the model's data, else the first that applies.
    public static func defaultEntry(for source: any SampleSpace, preset: Preset? = nil) -> SamplerEntry? {
        if let name = preset?.sampling.sampler, let e = entry(name), e.applies(to: source) { return e }
        let usable = supported(by: source)
        return usable.first { $0.defaultFor.contains(source.dataKind) } ?? usable.first
    }

    /// Each applicable sampler's resolved defaults for `source` (with the preset's settings over the sampler's own).
    public static func defaults(for source: any SampleSpace, preset: Preset? = nil) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for e in supported(by: source) {
            if let v = try? e.resolve(preset?.parameters(for: e.name) ?? [:], for: source) { out[e.name] = v.json }
        }
        return out
    }
}

extension Preset {
    /// The preset's settings for a sampler, as sent values.
    public func parameters(for sampler: String) -> [String: RawValue] {
        (sampling.parameters[sampler] ?? [:]).mapValues { .json($0) }
    }
}
