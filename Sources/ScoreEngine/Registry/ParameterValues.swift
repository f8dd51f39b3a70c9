/// A parameter's value as a client sent it: JSON (a request body) or text (a query string, a command-line flag).
public enum RawValue: Sendable, Equatable {
    case json(JSONValue)
    case text(String)
}

extension Parameter {
    /// Checks a sent value against the declaration.
    public func parse(_ raw: RawValue) throws -> JSONValue {
        switch raw {
        case .json(let v): return try value(fromJSON: v)
        case .text(let s): return try value(fromText: s)
        }
    }
}

/// Validated values of declared parameters by key, defaults filled in and inapplicable ones left out: what a
/// registry entry's factory reads. The typed getters expect the value to be there (resolution put it there).
public struct ParameterValues: Sendable, Equatable {
    public private(set) var values: [String: JSONValue]

    public init(_ values: [String: JSONValue] = [:]) { self.values = values }

    public subscript(key: String) -> JSONValue? {
        get { values[key] }
        set { values[key] = newValue }
    }

    public var keys: [String] { values.keys.sorted() }
    public var json: JSONValue { .object(values) }

    public func has(_ key: String) -> Bool { values[key] != nil }

    public func int(_ key: String) -> Int { Int(double(key)) }
    public func double(_ key: String) -> Double {
        guard let x = values[key]?.number else { preconditionFailure("parameter \(key) is not a resolved number") }
        return x
    }
    public func optionalDouble(_ key: String) -> Double? { values[key]?.number }
    public func bool(_ key: String) -> Bool {
        guard let b = values[key]?.bool else { preconditionFailure("parameter \(key) is not a resolved boolean") }
        return b
    }
    public func string(_ key: String) -> String {
        guard let s = values[key]?.string else { preconditionFailure("parameter \(key) is not a resolved string") }
        return s
    }
    public func doubles(_ key: String) -> [Double] {
        guard let a = values[key]?.array else { preconditionFailure("parameter \(key) is not a resolved list") }
        return a.map { $0.number ?? 0 }
    }

    public func ints(_ key: String) -> [Int] {
        guard let a = values[key]?.array else { preconditionFailure("parameter \(key) is not a resolved list") }
        return a.map { Int($0.number ?? 0) }
    }

    /// These values with `other`'s laid over them.
    public func merging(_ other: ParameterValues) -> ParameterValues {
        ParameterValues(values.merging(other.values) { _, b in b })
    }
}

extension Array where Element == Parameter {
    public func parameter(_ key: String) -> Parameter? { first { $0.key == key } }

    /// Resolves sent values against these declarations: each is checked, the defaults for data of `kind` (and
    /// the model sampled, if any) fill the rest, and parameters whose condition is not met are left out. A sent
    /// key that is not declared gets `unknown(key)`; a sent value whose condition is not met is refused, naming
    /// `owner` ("sampler ode").
    public func resolve(_ given: [String: RawValue], kind: DataKind, source: (any SampleSpace)? = nil, owner: String,
                        unknown: (String) -> InvalidParameter) throws -> ParameterValues {
        for key in given.keys.sorted() where parameter(key) == nil { throw unknown(key) }
        var values: [String: JSONValue] = [:]
        for p in self {
            if let raw = given[p.key] {
                values[p.key] = try p.parse(raw)
            } else if p.required {
                throw InvalidParameter(p.key, "is required")
            } else if let d = p.defaultValue(kind: kind, source: source) {
                values[p.key] = d
            }
        }
        // Conditions refer to parameters declared earlier, so one pass in order settles them.
        for p in self {
            guard let c = p.condition else { continue }
            if c.values.contains(values[c.key] ?? .null) { continue }
            if given[p.key] != nil {
                let now = values[c.key].map { $0.string ?? $0.serialized } ?? "unset"
                let wanted = c.values.map { $0 == .null ? "unset" : $0.string ?? $0.serialized }.joined(separator: " or ")
                throw InvalidParameter.doesNotApply(p.key, "applies to \(owner) only when \(c.key) is \(wanted) (it is \(now))")
            }
            values[p.key] = nil
        }
        return ParameterValues(values)
    }
}
