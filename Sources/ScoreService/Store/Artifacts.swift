import Foundation

/// Where artifacts are kept, by key (`checkpoints/m_….safetensors`): files under the data directory (one
/// process, SQLite) or rows in PostgreSQL (several hosts, no shared file system).
protocol ArtifactBackend: Sendable {
    /// Replaces the artifact atomically; with a fence, only while that claim holds (else `LeaseLost`).
    func write(_ data: Data, key: String, fence: Fence?) throws
    /// The artifact, nil when there is none; an error when it cannot be read (the database is away).
    func read(_ key: String) throws -> Data?
    /// Removes it (with a fence, only while that claim holds).
    func remove(_ key: String, fence: Fence?) throws
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
    public func read(_ key: String) throws -> Data? { try backend.read(key) }
    /// Removes it; a failure is logged by the caller's sweep or left (an orphan does no harm but its bytes).
    public func remove(_ key: String, fence: Fence? = nil) { try? backend.remove(key, fence: fence) }
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

    func read(_ key: String) throws -> Data? {
        let u = url(key)
        guard FileManager.default.fileExists(atPath: u.path) else { return nil }
        return try Data(contentsOf: u)
    }

    func remove(_ key: String, fence: Fence?) throws {
        let u = url(key)
        if FileManager.default.fileExists(atPath: u.path) { try FileManager.default.removeItem(at: u) }
    }

    /// Leftover temporary files of writes interrupted by a crash.
    func cleanTemporary() {
        let tmp = root.appendingPathComponent("tmp")
        for f in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] {
            try? FileManager.default.removeItem(at: tmp.appendingPathComponent(f))
        }
    }
}
