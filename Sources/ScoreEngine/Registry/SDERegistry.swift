/// An SDE as the registry knows it: its name, its parameters and the factory that builds it from them (with
/// the training data at hand, for settings that default to the data's scale).
public struct SDEEntry: Sendable {
    public let name: String
    public let summary: String
    public let parameters: [Parameter]
    /// Checks relations between the values (σ_min < σ_max), naming the field at fault.
    public let check: @Sendable (ParameterValues) throws -> Void
    public let make: @Sendable (ParameterValues, _ data: Tensor?) -> any SDE

    public init(name: String, summary: String, parameters: [Parameter],
                check: @escaping @Sendable (ParameterValues) throws -> Void = { _ in },
                make: @escaping @Sendable (ParameterValues, Tensor?) -> any SDE) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.check = check
        self.make = make
    }
}

/// The SDEs a model can be trained on, by name (score_sde's `sde_lib`). Adding one is a new file with its
/// entry and one line in `all`. (Fixed at build time, like the objectives: dsm's `sde` field lists them.)
public enum SDERegistry {
    public static let all: [SDEEntry] = [VESDE.entry, VPSDE.entry, SubVPSDE.entry]
    public static var names: [String] { all.map(\.name) }
    public static func entry(_ name: String) -> SDEEntry? { all.first { $0.name == name } }
}
