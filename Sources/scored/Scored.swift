import ArgumentParser
import Foundation
import ScoreEngine

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
        subcommands: [Serve.self, Train.self, Sample.self, Eval.self, Healthcheck.self])
}

/// Writes `text` to standard error.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Data for a recipe: a built-in generator's draw (seeded from the recipe), or a point-cloud file.
/// Whether a data set names images: the built-in MNIST splits, or an IDX/PGM file.
func isImageDataSet(_ name: String) -> Bool {
    if name == "mnist" || name == "mnist_test" { return true }
    let lower = name.lowercased().replacingOccurrences(of: ".gz", with: "")
    return lower.hasSuffix(".pgm") || lower.hasSuffix(".idx") || lower.hasSuffix("ubyte")
}

/// The shipped MNIST files: `datasets/mnist` beside the executable's repository, or `$SCORED_DATASETS/mnist`.
func mnistDirectory() -> URL {
    if let d = ProcessInfo.processInfo.environment["SCORED_DATASETS"] { return URL(fileURLWithPath: d).appendingPathComponent("mnist") }
    return URL(fileURLWithPath: "datasets/mnist")
}

/// Points or images for training or evaluation.
func loadData(dataset: String, size: Int, seed: UInt64) throws -> Tensor {
    if dataset == "mnist" || dataset == "mnist_test" {
        return try MNIST.load(dataset == "mnist" ? .train : .test, from: mnistDirectory())
    }
    if isImageDataSet(dataset) {
        guard let data = FileManager.default.contents(atPath: dataset) else { throw ValidationError("cannot read \(dataset)") }
        return try ImageCodec.read(Array(data))
    }
    return try loadPoints(dataset: dataset, size: size, seed: seed)
}

func loadPoints(dataset: String, size: Int, seed: UInt64) throws -> Tensor {
    if let toy = Toy2D(rawValue: dataset) {
        var rng = Philox(seed: seed).derived(0xDA7A)
        return toy.sample(size, rng: &rng)
    }
    let url = URL(fileURLWithPath: dataset)
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw ValidationError("unknown data set '\(dataset)': use one of \(Toy2D.allCases.map(\.rawValue).joined(separator: ", ")) or a .json/.csv file")
    }
    let data = try Data(contentsOf: url)
    if url.pathExtension.lowercased() == "csv" { return try PointCloud.parseCSV(String(decoding: data, as: UTF8.self)) }
    return try PointCloud.parseJSON(data)
}

/// A terminal progress line: bar, step, loss, rate and ETA (redrawn in place on a terminal).
struct ProgressLine {
    let total: Int
    let start = Date()
    let interactive = isatty(STDERR_FILENO) != 0

    func update(step: Int, loss: Double?, unit: String = "steps") {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(step) / elapsed : 0
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let width = 30, filled = total > 0 ? width * step / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let lossText = loss.map { String(format: " loss %.4f", $0) } ?? ""
        let line = String(format: "[%@] %d/%d%@ %.0f %@/s ETA %@", bar, step, total, lossText, rate, unit, ProgressLine.clock(eta))
        if interactive {
            FileHandle.standardError.write(Data(("\r" + line + (step >= total ? "\n" : "")).utf8))
        } else {
            note(line)
        }
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}


