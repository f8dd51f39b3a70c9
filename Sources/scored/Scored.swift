import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

@main
struct Scored: ParsableCommand {
    static func main() {
        Engine.configure()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "scored",
        abstract: "Score-based generative models: train, sample, evaluate, and serve them over HTTP.",
        subcommands: [Serve.self, Worker.self, Train.self, Sample.self, Impute.self, Colorize.self, Encode.self, Decode.self, Eval.self, Healthcheck.self, OpenAPI.self, Keys.self])
}

/// Writes `text` to standard error.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Data sets on the command line: the built-in ones (MNIST from the configuration's `datasets_dir`, as the
/// service has it) or files: points as .json or .csv, images as IDX or PGM, optionally gzip-compressed.
enum LocalData {
    /// What a data set holds; nil when it is neither built in nor an existing file.
    static func kind(of name: String) throws -> DataKind? {
        if let k = BuiltinDatasets.kind(name) { return k }
        guard FileManager.default.fileExists(atPath: name) else { return nil }
        return DataFormat(fileName: name).kind
    }

    static func load(_ name: String, size: Int, seed: UInt64) throws -> Tensor {
        try loadLabelled(name, size: size, seed: seed, labelsFile: nil).data
    }

    static var builtinDirectory: URL { get throws { URL(fileURLWithPath: try ServiceConfig.load(file: nil).datasetsDir) } }

    /// The data and its labels: a built-in set's, a CSV `label` column or JSON `labels`, or for images an
    /// IDX label file given beside them.
    static func loadLabelled(_ name: String, size: Int, seed: UInt64, labelsFile: String?) throws -> (data: Tensor, labels: [Int]?) {
        let directory = try builtinDirectory
        if let t = try BuiltinDatasets.load(name, size: size, seed: seed, directory: directory) {
            if labelsFile != nil { throw InvalidParameter("labels", "built-in data sets have their own labels") }
            return (t, try BuiltinDatasets.labels(name, size: size, seed: seed, directory: directory))
        }
        guard let data = FileManager.default.contents(atPath: name) else { throw InvalidParameter("dataset", "cannot read \(name)") }
        var (x, labels) = try DataFormat(fileName: name).readLabelled(Array(data))
        if let labelsFile {
            guard let bytes = FileManager.default.contents(atPath: labelsFile) else { throw InvalidParameter("labels", "cannot read \(labelsFile)") }
            let l = try ImageCodec.idxLabels(Array(bytes))
            guard l.count == x.shape[0] else { throw InvalidParameter("labels", "\(l.count) labels for \(x.shape[0]) items") }
            labels = l
        }
        return (x, labels)
    }
}

/// A terminal progress line: bar, step, loss, rate and ETA, redrawn in place on a terminal at most ten times a
/// second; elsewhere (a log) one line per tenth of the run. Safe to call from several threads.
final class ProgressLine: @unchecked Sendable {
    let total: Int
    let start = Date()
    let interactive = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()
    private var lastDrawn = Date.distantPast
    private var lastTenth = -1

    init(total: Int) { self.total = total }

    func update(step: Int, loss: Double?, unit: String = "steps") {
        lock.lock()
        defer { lock.unlock() }
        let done = step >= total
        if interactive {
            guard done || Date().timeIntervalSince(lastDrawn) >= 0.1 else { return }
            lastDrawn = Date()
        } else {
            let tenth = total > 0 ? 10 * step / total : 10
            guard tenth > lastTenth else { return }
            lastTenth = tenth
        }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(step) / elapsed : 0
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let width = 30, filled = total > 0 ? width * min(step, total) / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let lossText = loss.map { String(format: " loss %.4f", $0) } ?? ""
        let line = String(format: "[%@] %d/%d%@ %.0f %@/s ETA %@", bar, step, total, lossText, rate, unit, ProgressLine.clock(eta))
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + (done ? "\n" : "")).utf8))
        } else {
            note(line)
        }
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}



/// The options of the commands that compute and write one document: their compute threads and where the
/// document goes.
struct OutputOptions: ParsableArguments {
    @Option(help: "Compute threads.") var threads = 2
    @Option(name: [.short, .long], help: "Write here instead of standard output.") var out: String?

    /// Writes the document to `--out` (atomically) or to standard output.
    func write(_ bytes: [UInt8]) throws {
        if let out { try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic) } else { FileHandle.standardOutput.write(Data(bytes)) }
    }
}
