import Foundation

/// Files under the data directory: model checkpoints, training states, job results, uploaded data sets.
/// Every write is atomic: a temporary file in the same directory, flushed, then renamed over the target.
public struct Artifacts: Sendable {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        for d in ["checkpoints", "states", "results", "datasets", "history", "tmp"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
        }
    }

    public func checkpoint(_ model: String) -> URL { root.appendingPathComponent("checkpoints/\(model).safetensors") }
    public func state(_ job: String) -> URL { root.appendingPathComponent("states/\(job).safetensors") }
    public func result(_ job: String, _ ext: String) -> URL { root.appendingPathComponent("results/\(job).\(ext)") }
    public func dataset(_ id: String) -> URL { root.appendingPathComponent("datasets/\(id).safetensors") }
    /// A training job's loss series (`TrainingHistory`).
    public func history(_ job: String) -> URL { root.appendingPathComponent("history/\(job).json") }

    public func write(_ data: Data, to url: URL) throws {
        let tmp = root.appendingPathComponent("tmp/\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: tmp.path])
        }
        let h = try FileHandle(forWritingTo: tmp)
        do {
            try h.write(contentsOf: data)
            try h.synchronize()
            try h.close()
        } catch {
            try? h.close()
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        guard rename(tmp.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: tmp)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        // The rename itself must reach the disk: flush the directory.
        let dir = open(url.deletingLastPathComponent().path, O_RDONLY)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    public func read(_ url: URL) -> Data? { try? Data(contentsOf: url) }

    public func remove(_ url: URL) { try? FileManager.default.removeItem(at: url) }

    /// Leftover temporary files of writes interrupted by a crash.
    public func cleanTemporary() {
        let tmp = root.appendingPathComponent("tmp")
        for f in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            try? FileManager.default.removeItem(at: tmp.appendingPathComponent(f))
        }
    }
}
