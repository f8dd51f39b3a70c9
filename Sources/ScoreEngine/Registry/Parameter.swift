import Foundation

/// A request error naming the parameter at fault, raised the same way by the HTTP API and the command line.
public struct InvalidParameter: Error, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String
    /// The value may be fine but the field does not apply (to this sampler, objective, data kind).
    public let inapplicable: Bool

    public init(_ field: String, _ message: String) { self.init(field, message, inapplicable: false) }
    public init(_ field: String, _ message: String, inapplicable: Bool) {
        self.field = field
        self.message = message
        self.inapplicable = inapplicable
    }

    /// A field no declaration knows: the same words over HTTP and on the command line.
    public static func unknown(_ field: String) -> InvalidParameter { InvalidParameter(field, "unknown field") }

    public static func doesNotApply(_ field: String, _ message: String) -> InvalidParameter {
        InvalidParameter(field, message, inapplicable: true)
    }

    public var description: String { "\(field): \(message)" }
    public static func == (a: InvalidParameter, b: InvalidParameter) -> Bool { a.field == b.field && a.message == b.message }
}

/// What a data set holds: points in ℝᵈ (the MLP) or images [C, H, W] (the U-Net).
public enum DataKind: String, Sendable, Codable, CaseIterable {
    case points, images

    /// The kind of an item of this shape.
    public init(itemShape: [Int]) { self = itemShape.count > 1 ? .images : .points }
}

/// A closed or half-open interval of numbers, as a parameter's range.
public struct NumberRange: Sendable, Equatable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double
    public var lowerOpen: Bool

    /// [lower, upper].
    public static func closed(_ lower: Double, _ upper: Double) -> NumberRange { NumberRange(lower: lower, upper: upper, lowerOpen: false) }
    /// (lower, upper].
    public static func above(_ lower: Double, upTo upper: Double) -> NumberRange { NumberRange(lower: lower, upper: upper, lowerOpen: true) }

    public func contains(_ v: Double) -> Bool { v.isFinite && (lowerOpen ? v > lower : v >= lower) && v <= upper }

    public var description: String {
        "\(lowerOpen ? "(" : "[")\(JSONValue.format(lower)), \(JSONValue.format(upper))]"
    }
}

/// One declared parameter of a sampler, an objective, an SDE or the training recipe: its key (snake_case, as
/// requests send it), type and range, default and one line of help. The declaration is the only place these
/// are written: request validation (HTTP and command line), the OpenAPI description, the page's forms and the
/// echo of effective values are all derived from it.
public struct Parameter: Sendable {
    public enum Kind: Sendable, Equatable {
        case integer(ClosedRange<Int>)
        case number(NumberRange)
        case boolean
        case choice([String])
        case integerList(ClosedRange<Int>, count: ClosedRange<Int>)
        /// Finite numbers (|x| ≤ 10³⁰), as many as `count` allows.
        case numberList(count: ClosedRange<Int>)
        case text(maxLength: Int)
    }

    /// A default: a value, one per data kind, a value computed from the model sampled, or none (the
    /// parameter is absent unless given; the text says what absence means).
    public indirect enum Default: Sendable {
        case none(String)
        case value(JSONValue)
        case byKind(points: Default, images: Default)
        case derived(String, @Sendable (any SampleSpace) -> JSONValue)
    }

    /// The parameter applies only when another one (declared before it) resolves to one of `values` (`null`:
    /// when the other is unset).
    public struct Condition: Sendable, Equatable {
        public let key: String
        public let values: [JSONValue]
        public init(_ key: String, in values: [JSONValue]) { self.key = key; self.values = values }
    }

    public let key: String
    public let kind: Kind
    public let defaultValue: Default
    public let help: String
    public let condition: Condition?
    /// A request without it is refused.
    public let required: Bool

    public init(_ key: String, _ kind: Kind, default defaultValue: Default, help: String, when condition: Condition? = nil,
                required: Bool = false) {
        self.key = key
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
        self.condition = condition
        self.required = required
    }

    /// A parameter every request must send.
    public static func required(_ key: String, _ kind: Kind, help: String) -> Parameter {
        Parameter(key, kind, default: .none(""), help: help, required: true)
    }

    /// The same declaration under another default.
    public func with(default d: Default) -> Parameter { Parameter(key, kind, default: d, help: help, when: condition, required: required) }

    // MARK: - Reading values

    /// A value sent as JSON, checked against the kind; integers stay JSON numbers.
    public func value(fromJSON v: JSONValue) throws -> JSONValue {
        switch (kind, v) {
        case (.integer(let r), .number(let x)):
            guard x == x.rounded(), x >= Double(r.lowerBound), x <= Double(r.upperBound) else { throw rangeError() }
            return .number(x)
        case (.number(let r), .number(let x)):
            guard r.contains(x) else { throw rangeError() }
            return .number(x)
        case (.boolean, .bool): return v
        case (.choice(let options), .string(let s)):
            guard options.contains(s) else { throw InvalidParameter(key, "must be one of \(options.joined(separator: ", ")), got \"\(s)\"") }
            return v
        case (.integerList(let r, let count), .array(let a)):
            let xs = try a.map { e -> Double in
                guard case .number(let x) = e else { throw rangeError() }
                return x
            }
            return try list(xs, r, count)
        case (.numberList(let count), .array(let a)):
            let xs = try a.map { e -> Double in
                guard case .number(let x) = e else { throw rangeError() }
                return x
            }
            return try numbers(xs, count)
        case (.text(let maxLength), .string(let s)):
            guard !s.isEmpty, s.count <= maxLength else { throw InvalidParameter(key, "must be 1 to \(maxLength) characters") }
            return v
        default:
            throw InvalidParameter(key, "\(expectation), got \(v.typeName)")
        }
    }

    /// A value written as text (a query string, a command-line flag): numbers, `true`/`false`, comma-separated lists.
    public func value(fromText s: String) throws -> JSONValue {
        switch kind {
        case .integer, .number:
            guard let x = Double(s.trimmingCharacters(in: .whitespaces)), x.isFinite else {
                throw InvalidParameter(key, "\(expectation), got \"\(s)\"")
            }
            return try value(fromJSON: .number(x))
        case .boolean:
            switch s.lowercased() {
            case "1", "true", "yes": return true
            case "0", "false", "no": return false
            default: throw InvalidParameter(key, "must be true or false, got \"\(s)\"")
            }
        case .choice, .text:
            return try value(fromJSON: .string(s))
        case .integerList(let r, let count):
            let xs = try s.split(separator: ",", omittingEmptySubsequences: false).map { part -> Double in
                guard let x = Double(part.trimmingCharacters(in: .whitespaces)) else { throw rangeError() }
                return x
            }
            return try list(xs, r, count)
        case .numberList(let count):
            let xs = try s.split(separator: ",", omittingEmptySubsequences: false).map { part -> Double in
                guard let x = Double(part.trimmingCharacters(in: .whitespaces)) else { throw rangeError() }
                return x
            }
            return try numbers(xs, count)
        }
    }

    private func list(_ xs: [Double], _ r: ClosedRange<Int>, _ count: ClosedRange<Int>) throws -> JSONValue {
        guard count.contains(xs.count), xs.allSatisfy({ $0 == $0.rounded() && $0 >= Double(r.lowerBound) && $0 <= Double(r.upperBound) }) else {
            throw rangeError()
        }
        return .array(xs.map { .number($0) })
    }

    private func numbers(_ xs: [Double], _ count: ClosedRange<Int>) throws -> JSONValue {
        guard count.contains(xs.count), xs.allSatisfy({ $0.isFinite && abs($0) <= 1e30 }) else { throw rangeError() }
        return .array(xs.map { .number($0) })
    }

    private func rangeError() -> InvalidParameter { InvalidParameter(key, expectation) }

    /// What a valid value is, as the error messages and the help say it.
    public var expectation: String {
        switch kind {
        case .integer(let r): return "must be an integer between \(r.lowerBound) and \(r.upperBound)"
        case .number(let r): return "must be a number in \(r)"
        case .boolean: return "must be true or false"
        case .choice(let options): return "must be one of \(options.joined(separator: ", "))"
        case .integerList(let r, let count):
            let n = count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)"
            return "must list \(n) integers between \(r.lowerBound) and \(r.upperBound)"
        case .numberList(let count):
            let n = count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)"
            return "must list \(n) finite numbers"
        case .text(let m): return "must be 1 to \(m) characters"
        }
    }

    // MARK: - Defaults

    /// The default for data of `kind`, given the model sampled when there is one (nil: none).
    public func defaultValue(kind: DataKind, source: (any SampleSpace)?) -> JSONValue? {
        func resolve(_ d: Default) -> JSONValue? {
            switch d {
            case .none: return nil
            case .value(let v): return v
            case .byKind(let p, let i): return resolve(kind == .points ? p : i)
            case .derived(_, let f): return source.map(f)
            }
        }
        return resolve(defaultValue)
    }

    /// The default as documentation: a JSON value when it is one, else the text saying how it is chosen.
    public func defaultDescription(kind: DataKind?) -> String? {
        func text(_ d: Default) -> String? {
            switch d {
            case .none(let t): return t.isEmpty ? nil : t
            case .value(let v): return v.serialized
            case .byKind(let p, let i):
                if let kind { return text(kind == .points ? p : i) }
                let a = text(p), b = text(i)
                return a == b ? a : "\(a ?? "none") for points, \(b ?? "none") for images"
            case .derived(let t, _): return t
            }
        }
        return text(defaultValue)
    }
}

extension Parameter {
    /// The parameter's JSON Schema (OpenAPI 3.1), with its help and default as the description.
    public func schema(kind dataKind: DataKind? = nil) -> JSONValue {
        var o: [String: JSONValue]
        switch kind {
        case .integer(let r): o = ["type": "integer", "minimum": .number(Double(r.lowerBound)), "maximum": .number(Double(r.upperBound))]
        case .number(let r):
            o = ["type": "number", "maximum": .number(r.upper)]
            o[r.lowerOpen ? "exclusiveMinimum" : "minimum"] = .number(r.lower)
        case .boolean: o = ["type": "boolean"]
        case .choice(let options): o = ["type": "string", "enum": .array(options.map { .string($0) })]
        case .integerList(let r, let count):
            o = ["type": "array", "items": ["type": "integer", "minimum": .number(Double(r.lowerBound)), "maximum": .number(Double(r.upperBound))],
                 "minItems": .number(Double(count.lowerBound)), "maxItems": .number(Double(count.upperBound))]
        case .numberList(let count):
            o = ["type": "array", "items": ["type": "number"], "minItems": .number(Double(count.lowerBound)), "maxItems": .number(Double(count.upperBound))]
        case .text(let m): o = ["type": "string", "minLength": 1, "maxLength": .number(Double(m))]
        }
        o["description"] = .string(documentation(kind: dataKind))
        if case .value(let v) = defaultValue { o["default"] = v }
        return .object(o)
    }

    /// Help, condition and default in one sentence.
    public func documentation(kind: DataKind? = nil) -> String {
        var s = help
        if let c = condition { s += " (when \(c.key) is \(c.values.map { $0 == .null ? "unset" : $0.string ?? $0.serialized }.joined(separator: " or ")))" }
        if let d = defaultDescription(kind: kind) { s += "; default \(d)" }
        return s
    }

    /// The parameter described for clients (`GET /samplers`, `GET /recipe`): key, type, range, default, help.
    public func describe(kind dataKind: DataKind? = nil, source: (any SampleSpace)? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["key": .string(key), "help": .string(help)]
        switch kind {
        case .integer(let r):
            o["type"] = "integer"; o["minimum"] = .number(Double(r.lowerBound)); o["maximum"] = .number(Double(r.upperBound))
        case .number(let r):
            o["type"] = "number"; o["minimum"] = .number(r.lower); o["maximum"] = .number(r.upper); o["minimum_exclusive"] = .bool(r.lowerOpen)
        case .boolean: o["type"] = "boolean"
        case .choice(let options): o["type"] = "choice"; o["values"] = .array(options.map { .string($0) })
        case .integerList(let r, let count):
            o["type"] = "integer_list"; o["minimum"] = .number(Double(r.lowerBound)); o["maximum"] = .number(Double(r.upperBound))
            o["min_items"] = .number(Double(count.lowerBound)); o["max_items"] = .number(Double(count.upperBound))
        case .numberList(let count):
            o["type"] = "number_list"; o["min_items"] = .number(Double(count.lowerBound)); o["max_items"] = .number(Double(count.upperBound))
        case .text(let m): o["type"] = "string"; o["max_length"] = .number(Double(m))
        }
        if let dataKind, let v = defaultValue(kind: dataKind, source: source) { o["default"] = v }
        else if case .value(let v) = defaultValue { o["default"] = v }
        if let d = defaultDescription(kind: dataKind) { o["default_text"] = .string(d) }
        if let c = condition { o["when"] = ["key": .string(c.key), "in": .array(c.values)] }
        if required { o["required"] = true }
        return .object(o)
    }
}

extension JSONValue {
    /// The string, if this is one.
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    /// The number, if this is one.
    public var number: Double? { if case .number(let x) = self { return x }; return nil }
    /// The array, if this is one.
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    /// The object, if this is one.
    public var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    /// The boolean, if this is one.
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
}
