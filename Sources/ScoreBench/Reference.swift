import Foundation

/// Runs the reference scripts of ../shared/bench with the Python of `.venv-bench` (made by
/// ../shared/bench/setup.sh) and reads the figures they print.
enum Reference {
    static var repository: URL { URL(fileURLWithPath: FileManager.default.currentDirectoryPath) }

    static var sharedBench: URL {
        if let s = ProcessInfo.processInfo.environment["SCORED_SHARED"] {
            return URL(fileURLWithPath: s).appendingPathComponent("bench")
        }
        return repository.deletingLastPathComponent().appendingPathComponent("shared/bench")
    }

    static var python: String? {
        if let p = ProcessInfo.processInfo.environment["BENCH_PYTHON"] { return p }
        for c in [repository.appendingPathComponent(".venv-bench/bin/python").path,
                  repository.deletingLastPathComponent().appendingPathComponent(".venv-bench/bin/python").path]
        where FileManager.default.isExecutableFile(atPath: c) { return c }
        return nil
    }

    /// Output of `python script args…`, or nil (with a note) when it cannot run.
    static func run(_ script: String, _ arguments: [String] = []) -> String? {
        guard let python else {
            print("  (no reference Python: run ../shared/bench/setup.sh .venv-bench, or set BENCH_PYTHON)")
            return nil
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [sharedBench.appendingPathComponent(script).path] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { print("  (could not start \(python): \(error))"); return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { print("  (\(script) exited with \(p.terminationStatus))"); return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The first number after `label` in `text`.
    static func number(after label: String, in text: String) -> Double? {
        guard let r = text.range(of: label) else { return nil }
        let rest = text[r.upperBound...].drop { !"0123456789.".contains($0) }
        return Double(rest.prefix { "0123456789.".contains($0) })
    }
}

func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}
