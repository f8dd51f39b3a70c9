import ScoreEngine

/// Reads typed fields from a JSON object or a query string, naming the field in every error, and refuses
/// fields it was not asked for.
struct Fields {
    enum Source {
        case json([String: JSONValue])
        case query([String: String])
    }

    let source: Source
    let prefix: String
    private(set) var seen: Set<String> = []

    init(json: JSONValue, prefix: String = "") throws {
        guard case .object(let o) = json else { throw APIError.invalid(prefix.isEmpty ? "body" : prefix, "must be a JSON object") }
        source = .json(o)
        self.prefix = prefix
    }

    init(query items: [(name: String, value: String)]) throws {
        var d: [String: String] = [:]
        for (k, v) in items {
            guard d[k] == nil else { throw APIError.invalid(k, "is given more than once") }
            d[k] = v
        }
        source = .query(d)
        prefix = ""
    }

    func name(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    var keys: [String] {
        switch source {
        case .json(let o): return Array(o.keys)
        case .query(let q): return Array(q.keys)
        }
    }

    func has(_ key: String) -> Bool { keys.contains(key) }

    /// The raw JSON value (nil if absent or null).
    mutating func value(_ key: String) -> JSONValue? {
        seen.insert(key)
        switch source {
        case .json(let o):
            if let v = o[key], v != .null { return v }
            return nil
        case .query(let q):
            return q[key].map { .string($0) }
        }
    }

    mutating func number(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case .number(let x): return x
        case .string(let s) where isQuery:
            guard let x = Double(s), x.isFinite else { throw APIError.invalid(name(key), "must be a number, got \"\(s)\"") }
            return x
        default: throw APIError.invalid(name(key), "must be a number, got \(v.typeName)")
        }
    }

    var isQuery: Bool { if case .query = source { return true }; return false }

    mutating func double(_ key: String, _ range: ClosedRange<Double>, default d: Double? = nil) throws -> Double? {
        guard let x = try number(key) else { return d }
        guard x.isFinite, range.contains(x) else { throw APIError.invalid(name(key), "must be between \(range.lowerBound) and \(range.upperBound)") }
        return x
    }

    mutating func int(_ key: String, _ range: ClosedRange<Int>, default d: Int? = nil) throws -> Int? {
        guard let x = try number(key) else { return d }
        guard x == x.rounded(), x >= Double(range.lowerBound), x <= Double(range.upperBound) else {
            throw APIError.invalid(name(key), "must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return Int(x)
    }

    mutating func string(_ key: String, allowed: [String]? = nil, maxLength: Int = 200) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw APIError.invalid(name(key), "must be a string, got \(v.typeName)") }
        guard !s.isEmpty, s.count <= maxLength else { throw APIError.invalid(name(key), "must be 1 to \(maxLength) characters") }
        if let allowed, !allowed.contains(s) {
            throw APIError.invalid(name(key), "must be one of \(allowed.joined(separator: ", ")), got \"\(s)\"")
        }
        return s
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        switch v {
        case .bool(let b): return b
        case .string(let s) where isQuery:
            switch s.lowercased() {
            case "1", "true", "yes": return true
            case "0", "false", "no": return false
            default: throw APIError.invalid(name(key), "must be true or false, got \"\(s)\"")
            }
        default: throw APIError.invalid(name(key), "must be true or false, got \(v.typeName)")
        }
    }

    mutating func intList(_ key: String, _ range: ClosedRange<Int>, count: ClosedRange<Int>) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        let items: [Double]
        switch v {
        case .array(let a):
            items = try a.map { if case .number(let x) = $0 { return x }; throw APIError.invalid(name(key), "must list integers") }
        case .string(let s) where isQuery:
            items = try s.split(separator: ",").map {
                guard let x = Double($0) else { throw APIError.invalid(name(key), "must list integers") }
                return x
            }
        default: throw APIError.invalid(name(key), "must be an array of integers, got \(v.typeName)")
        }
        guard count.contains(items.count) else { throw APIError.invalid(name(key), "must list \(count.lowerBound) to \(count.upperBound) integers") }
        guard items.allSatisfy({ $0 == $0.rounded() && $0 >= Double(range.lowerBound) && $0 <= Double(range.upperBound) }) else {
            throw APIError.invalid(name(key), "entries must be integers between \(range.lowerBound) and \(range.upperBound)")
        }
        return items.map { Int($0) }
    }

    /// A nested object's fields.
    mutating func object(_ key: String) throws -> Fields? {
        guard let v = value(key) else { return nil }
        return try Fields(json: v, prefix: name(key))
    }

    /// Refuses any field that was not read.
    func finish(allowing extra: Set<String> = []) throws {
        if let unknown = keys.sorted().first(where: { !seen.contains($0) && !extra.contains($0) }) {
            throw APIError.invalid(name(unknown), "unknown field")
        }
    }
}
