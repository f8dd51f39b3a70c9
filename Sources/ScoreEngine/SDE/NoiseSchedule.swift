/// Which perturbation a model was trained with: one of the registered SDEs, the NCSN noise ladder, one fixed
/// σ, or none (exact and sliced score matching learn the score of the data themselves).
///
/// Encoded as a tagged object: `{"type": "ve", "sigma_min": 0.01, "sigma_max": 22}`,
/// `{"type": "ladder", "sigma_min": …, "sigma_max": …, "levels": 10}`, `{"type": "fixed", "sigma": 0.1}`,
/// `{"type": "none"}`.
public enum NoiseSchedule: Sendable {
    case none
    case fixed(sigma: Double)
    case ladder(NoiseLadder)
    case sde(any SDE)

    /// What samplers are declared for: the schedule without its settings.
    public enum Family: String, Sendable, CaseIterable, Codable {
        case none, fixed, ladder, sde
    }

    public var family: Family {
        switch self {
        case .none: return .none
        case .fixed: return .fixed
        case .ladder: return .ladder
        case .sde: return .sde
        }
    }

    /// The SDE, when the schedule is one.
    public var sde: (any SDE)? {
        if case .sde(let s) = self { return s }
        return nil
    }

    /// The perturbation a time-conditioned network divides its output by.
    public var perturbation: (any Perturbation)? {
        switch self {
        case .ladder(let l): return l
        case .sde(let s): return s
        default: return nil
        }
    }

    /// `none`, `fixed`, `ladder`, or the SDE's name.
    public var name: String {
        switch self {
        case .sde(let s): return s.name
        default: return family.rawValue
        }
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["type": .string(name)]
        switch self {
        case .none: break
        case .fixed(let s): o["sigma"] = .number(s)
        case .ladder(let l):
            o["sigma_min"] = .number(l.sigmaMin); o["sigma_max"] = .number(l.sigmaMax); o["levels"] = .number(Double(l.levels))
        case .sde(let s): for (k, v) in s.parameters.values { o[k] = v }
        }
        return .object(o)
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads the tagged object written by `json`.
    public init(json: JSONValue) throws {
        guard let o = json.object, let type = o["type"]?.string else { throw Invalid(description: "a schedule needs a type") }
        func number(_ k: String) throws -> Double {
            guard let x = o[k]?.number else { throw Invalid(description: "schedule \(type) needs \(k)") }
            return x
        }
        switch type {
        case "none": self = .none
        case "fixed":
            let sigma = try number("sigma")
            guard sigma > 0, sigma.isFinite else { throw Invalid(description: "schedule fixed needs a positive sigma") }
            self = .fixed(sigma: sigma)
        case "ladder":
            let lo = try number("sigma_min"), hi = try number("sigma_max"), levels = try number("levels")
            guard lo > 0, hi > lo, hi.isFinite, levels >= 2, levels == levels.rounded(), levels <= 1e6 else {
                throw Invalid(description: "schedule ladder needs 0 < sigma_min < sigma_max and at least 2 levels")
            }
            self = .ladder(NoiseLadder(sigmaMin: lo, sigmaMax: hi, levels: Int(levels)))
        default:
            guard let entry = SDERegistry.entry(type) else { throw Invalid(description: "unknown SDE \(type)") }
            var given: [String: RawValue] = [:]
            for (k, v) in o where k != "type" { given[k] = .json(v) }
            do {
                let values = try entry.parameters.resolve(given, kind: .points, owner: "sde \(type)") {
                    InvalidParameter($0, "is not a setting of sde \(type)")
                }
                if let missing = entry.parameters.first(where: { !values.has($0.key) }) {
                    throw Invalid(description: "schedule \(type) needs \(missing.key)")
                }
                try entry.check(values)
                self = .sde(entry.make(values, nil))
            } catch let e as InvalidParameter {
                throw Invalid(description: "schedule \(type): \(e)")
            }
        }
    }
}

extension NoiseSchedule: Equatable {
    public static func == (a: NoiseSchedule, b: NoiseSchedule) -> Bool { a.json == b.json }
}

extension NoiseSchedule: Codable {
    public init(from decoder: Decoder) throws { try self.init(json: JSONValue(from: decoder)) }
    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }
}
