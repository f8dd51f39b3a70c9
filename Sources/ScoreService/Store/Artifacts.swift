import Foundation

/// Where artifacts are kept, by key (`checkpoints/m_….safetensors`): files under the data directory (one
/// process, SQLite) or rows in PostgreSQL (several hosts, no shared file system).
protocol ArtifactBackend: Sendable {
    /// Replaces the artifact atomically; with a fence, only while that claim holds (else `LeaseLost`).
    func write(_ data: Data, key: String, fence: Fence?) throws
    func read(_ key: String) -> Data?
    func remove(_ key: String)
}

/// Model checkpoints, training states, job results, uploaded data sets and loss series, by key.
public struct Artifacts: Sendable {
    let backend: any ArtifactBackend

    init(backend: any ArtifactBackend) { self.backend = backend }

    public func checkpoint(_ model: String) -> String { "checkpoints/\(model).safetensors" }
    public func state(_ job: String) -> String { "states/\(job).safetensors" }
    public func result(_ job: String, _ ext: String) -> String { "results/\(job).\(ext)" }
    public func dataset(_ id: String) -> String { "datasets/\(id).safetensors" }
    /// A training job's loss series (`TrainingHistory`).
    public func history(_ job: String) -> String { "history/\(job).json" }

    public func write(_ data: Data, to key: String, fence: Fence? = nil) throws { try backend.write(data, key: key, fence: fence) }
    public func read(_ key: String) -> Data? { backend.read(key) }
    public func remove(_ key: String) { backend.remove(key) }
}

/// Artifacts as files under a root directory. Every write is atomic: a temporary file in the same file
/// system, flushed, then renamed over the target. The one process that owns the directory runs every job, so
/// fences need no check here (the store's rows carry them).
struct FileArtifacts: ArtifactBackend {
    let root: URL

    init(root: URL) throws {
        self.root = root
        for d in ["checkpoints", "states", "results", "datasets", "history", "tmp"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true)
        }
    }

    func url(_ key: String) -> URL { root.appendingPathComponent(key) }

    func write(_ data: Data, key: String, fence: Fence?) throws {
        let url = url(key)
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

    func read(_ key: String) -> Data? { try? Data(contentsOf: url(key)) }

    func remove(_ key: String) { try? FileManager.default.removeItem(at: url(key)) }

    /// Leftover temporary files of writes interrupted by a crash.
    func cleanTemporary() {
        let tmp = root.appendingPathComponent("tmp")
        for f in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            try? FileManager.default.removeItem(at: tmp.appendingPathComponent(f))
        }
    }
}
