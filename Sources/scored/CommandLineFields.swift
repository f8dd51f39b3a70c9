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

    /// The declarations as the help lists them.
    static func help(_ parameters: [(flag: String, parameter: Parameter, note: String?)]) -> String {
        parameters.map { f, p, note in
            let flag = "--" + f.replacingOccurrences(of: "_", with: "-")
            return "  \(flag.padding(toLength: 22, withPad: " ", startingAt: 0)) \(p.documentation())\(note.map { " (\($0))" } ?? "")"
        }.joined(separator: "\n")
    }
}
