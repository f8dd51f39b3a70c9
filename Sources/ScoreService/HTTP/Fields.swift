import HTTPServer
import ScoreEngine

/// The fields of a request as sent, by name: a query string's items (text) or a JSON object's members (JSON;
/// nulls read as absent). Resolving them against declared parameters checks each, fills the defaults and
/// refuses any field nothing declares.
public struct Fields: Sendable {
    public private(set) var values: [String: RawValue]

    public init(_ values: [String: RawValue] = [:]) { self.values = values }

    /// A query string's items; nil items (undecodable percent-encoding) and repeated names are refused.
    public init(query items: [(name: String, value: String)]?) throws {
        guard let items else { throw InvalidParameter("query", "is not valid percent-encoded UTF-8") }
        var d: [String: RawValue] = [:]
        for (k, v) in items {
            guard d[k] == nil else { throw InvalidParameter(k, "is given more than once") }
            d[k] = .text(v)
        }
        values = d
    }

    /// A JSON object's members (`field` names the object in errors).
    public init(json: JSONValue, field: String = "body") throws {
        guard let o = json.object else { throw InvalidParameter(field, "must be a JSON object, got \(json.typeName)") }
        values = o.filter { $0.value != .null }.mapValues { .json($0) }
    }

    public subscript(key: String) -> RawValue? { values[key] }

    public var keys: [String] { values.keys.sorted() }

    /// Takes the fields these declarations name out of this set, checked against them, with their defaults.
    public mutating func take(_ parameters: [Parameter], kind: DataKind = .points, source: (any ScoreSource)? = nil,
                       owner: String = "this request") throws -> ParameterValues {
        let keys = Set(parameters.map(\.key))
        let mine = values.filter { keys.contains($0.key) }
        for k in keys { values[k] = nil }
        return try parameters.resolve(mine, kind: kind, source: source, owner: owner) { InvalidParameter.unknown($0) }
    }

    /// Takes the fields whose names match out of this set, as sent.
    public mutating func remove(where matches: (String) -> Bool) -> [String: RawValue] {
        let taken = values.filter { matches($0.key) }
        for k in taken.keys { values[k] = nil }
        return taken
    }

    /// Refuses whatever is left.
    public func finish() throws {
        if let unknown = keys.first { throw InvalidParameter.unknown(unknown) }
    }
}

extension HTTPRequest {
    /// The query string's fields.
    func fields() throws -> Fields { try Fields(query: queryItems) }

    /// The JSON body (an empty body reads as `{}`). Other media types are refused, except curl's default label
    /// for `-d` (application/x-www-form-urlencoded), so that `curl -d '{…}'` works as written.
    func jsonBody() throws -> JSONValue {
        if let ct = headers["Content-Type"]?.lowercased(), !ct.hasPrefix("application/json"),
           !ct.hasPrefix("application/x-www-form-urlencoded") {
            throw APIError(status: 415, code: "unsupported_media_type", message: "expected application/json, got \(ct)")
        }
        if body.isEmpty { return .object([:]) }
        do { return try JSONValue(parsing: body) } catch let e as JSONValue.ParseError {
            throw APIError(status: 400, code: "invalid_json", message: e.description)
        }
    }

    /// The `Idempotency-Key` header, checked, as the job records keep it: with the route's path, so that a key
    /// sent again to another route makes that route's job instead of returning the first route's.
    func idempotencyKey() throws -> String? {
        guard let k = headers["Idempotency-Key"] else { return nil }
        guard (1...200).contains(k.count) else { throw InvalidParameter("Idempotency-Key", "must be 1 to 200 characters") }
        return "\(path) \(k)"
    }
}
