/// A training objective as the registry knows it: its name, the data it applies to, its parameters, the
/// perturbation it trains under (an SDE from `SDERegistry`, whose parameters then apply too, or a schedule of
/// its own) and the factory of its loss.
public struct ObjectiveEntry: Sendable {
    public let name: String
    public let summary: String
    public let kinds: [DataKind]
    public let parameters: [Parameter]
    /// Whether it trains on the data's labels (then the data set must have them).
    public let needsLabels: Bool
    /// The SDE it trains on, when it trains on one (its `sde` parameter): nil otherwise.
    public let sdeName: @Sendable (ParameterValues) -> String?
    /// Checks relations between values, naming the field at fault.
    public let check: @Sendable (ParameterValues) throws -> Void
    /// The schedule when it does not train on an SDE.
    public let schedule: @Sendable (ParameterValues, _ data: Tensor?) -> NoiseSchedule
    public let make: @Sendable (ParameterValues, NoiseSchedule) -> any TrainingObjective

    public init(name: String, summary: String, kinds: [DataKind] = DataKind.allCases, needsLabels: Bool = false, parameters: [Parameter],
                sdeName: @escaping @Sendable (ParameterValues) -> String? = { _ in nil },
                check: @escaping @Sendable (ParameterValues) throws -> Void = { _ in },
                schedule: @escaping @Sendable (ParameterValues, Tensor?) -> NoiseSchedule = { _, _ in .none },
                make: @escaping @Sendable (ParameterValues, NoiseSchedule) -> any TrainingObjective) {
        self.name = name
        self.summary = summary
        self.kinds = kinds
        self.needsLabels = needsLabels
        self.parameters = parameters
        self.sdeName = sdeName
        self.check = check
        self.schedule = schedule
        self.make = make
    }

    /// The sent objective and SDE parameters checked and completed with the defaults for data of `kind`.
    /// Keys that are neither get `unknown(key)`.
    public func resolve(_ given: [String: RawValue], kind: DataKind, unknown: (String) -> InvalidParameter) throws -> ParameterValues {
        guard kinds.contains(kind) else {
            throw InvalidParameter("objective", "\(name) does not apply to \(kind) (use one of \(ObjectiveRegistry.all.filter { $0.kinds.contains(kind) }.map(\.name).joined(separator: ", ")))")
        }
        let own = Set(parameters.map(\.key))
        var values = try parameters.resolve(given.filter { own.contains($0.key) }, kind: kind, owner: "objective \(name)") { unknown($0) }
        var applicable = own
        if let sde = sdeName(values) {
            guard let entry = SDERegistry.entry(sde) else { throw InvalidParameter("sde", "unknown SDE \(sde)") }
            let keys = Set(entry.parameters.map(\.key))
            let sdeValues = try entry.parameters.resolve(given.filter { keys.contains($0.key) }, kind: kind, owner: "sde \(sde)") { unknown($0) }
            try entry.check(sdeValues)
            values = values.merging(sdeValues)
            applicable.formUnion(keys)
        }
        for key in given.keys.sorted() where !applicable.contains(key) {
            if ObjectiveRegistry.isObjectiveParameter(key) {
                let with = sdeName(values).map { " with sde \($0)" } ?? ""
                throw InvalidParameter.doesNotApply(key, "does not apply to objective \(name)\(with)")
            }
            throw unknown(key)
        }
        try check(values)
        return values
    }

    /// The perturbation for resolved values: the SDE's, or the objective's own schedule.
    public func makeSchedule(_ values: ParameterValues, data: Tensor?) -> NoiseSchedule {
        if let sde = sdeName(values), let entry = SDERegistry.entry(sde) { return .sde(entry.make(values, data)) }
        return schedule(values, data)
    }
}

/// The objectives (score_sde's `losses`). Adding one is a new file with its entry and one line in `all`.
/// (Unlike samplers, objectives are fixed at build time: the recipe's `objective` field lists them.)
public enum ObjectiveRegistry {
    public static let all: [ObjectiveEntry] = [
        DenoisingScoreMatching.entry, AnnealedDenoisingScoreMatching.entry, ExactScoreMatching.entry, SlicedScoreMatching.entry,
        NoiseConditionalClassification.entry,
    ]

    public static var names: [String] { all.map(\.name) }
    public static func entry(_ name: String) -> ObjectiveEntry? { all.first { $0.name == name } }

    /// Every key an objective or an SDE declares (the recipe's perturbation fields).
    public static var parameters: [Parameter] {
        var seen = Set<String>(), out: [Parameter] = []
        for p in all.flatMap(\.parameters) + SDERegistry.all.flatMap(\.parameters) where seen.insert(p.key).inserted { out.append(p) }
        return out
    }

    public static func isObjectiveParameter(_ key: String) -> Bool { parameters.contains { $0.key == key } }
}
