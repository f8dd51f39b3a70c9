import ScoreEngine

/// Options written as `--key value`, `--key=value`, `--flag` (true) or `--no-flag` (false), read as fields for
/// the declarations the HTTP API uses (`--corrector-steps 2` is the field `corrector_steps`), so that the
/// command line and the API check them the same way.
enum CommandLineFields {
    static func parse(_ arguments: [String]) throws -> [String: RawValue] {
        var out: [String: RawValue] = [:]
        var i = 0
        func key(_ flag: Substring) -> String { flag.replacingOccurrences(of: "-", with: "_") }
        while i < arguments.count {
            let a = arguments[i]
            guard a.hasPrefix("--"), a.count > 2 else { throw InvalidParameter(a, "unexpected argument (options are --name value)") }
            let body = a.dropFirst(2)
            var name: String, value: String
            if let eq = body.firstIndex(of: "=") {
                name = key(body[..<eq])
                value = String(body[body.index(after: eq)...])
                i += 1
            } else if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                name = key(body)
                value = arguments[i + 1]
                i += 2
            } else if body.hasPrefix("no-") {
                name = key(body.dropFirst(3))
                value = "false"
                i += 1
            } else {
                name = key(body)
                value = "true"
                i += 1
            }
            guard out[name] == nil else { throw InvalidParameter(name, "is given more than once") }
            out[name] = .text(value)
        }
        return out
    }

    /// The declarations as the help lists them: flag, values, help and default.
    static func help(_ parameters: [(flag: String, parameter: Parameter, note: String?)]) -> String {
        parameters.map { f, p, note in
            "--" + f.replacingOccurrences(of: "_", with: "-") + " " + values(p) + ": " + p.documentation() + (note.map { " (\($0))" } ?? "")
        }.joined(separator: "\n")
    }

    static func values(_ p: Parameter) -> String {
        switch p.kind {
        case .integer(let r): return "<\(r.lowerBound)…\(r.upperBound)>"
        case .number(let r): return "<number in \(r)>"
        case .boolean: return "<true|false>"
        case .choice(let options): return "<" + options.joined(separator: "|") + ">"
        case .integerList(let r, let count):
            return "<\(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)-\(count.upperBound)") integers \(r.lowerBound)…\(r.upperBound), comma-separated>"
        case .numberList(let count):
            return "<\(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound)-\(count.upperBound)") numbers, comma-separated>"
        case .text: return "<text>"
        }
    }
}
