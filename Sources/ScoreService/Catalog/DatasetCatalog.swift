import Foundation
import ScoreEngine
import Synchronization

/// Data sets by name: the built-in ones (`BuiltinDatasets`, MNIST from `builtinDirectory/mnist`) and uploads
/// (by id, from the store and the artifacts). Loaded sets are kept in memory, a few at a time.
final class DatasetCatalog: @unchecked Sendable {
    let store: any RecordStore
    let artifacts: Artifacts
    let builtinDirectory: URL
    private let cache = Mutex<[String: Tensor]>([:])

    init(store: any RecordStore, artifacts: Artifacts, builtinDirectory: URL) {
        self.store = store
        self.artifacts = artifacts
        self.builtinDirectory = builtinDirectory
    }

    /// The kind of a built-in data set (the store's migration needs it without a catalog).
    static func builtinKind(_ name: String) -> DataKind? { BuiltinDatasets.kind(name) }

    /// What a data set holds, nil if there is no such data set.
    func kind(of name: String) throws -> DataKind? {
        if let k = BuiltinDatasets.kind(name) { return k }
        return try store.dataset(name)?.kind
    }

    /// The shape of one item ([2] for points, [1, 28, 28] for MNIST), nil if unknown.
    func itemShape(_ name: String) throws -> [Int]? {
        if let s = BuiltinDatasets.itemShape(name) { return s }
        return try store.dataset(name)?.shape
    }

    struct Unknown: Error, CustomStringConvertible {
        let name: String
        var description: String { "unknown data set \(name)" }
    }

    /// The data for a name: `size` fresh points of a generator (seeded as the command line seeds them), or a
    /// fixed set.
    func load(_ name: String, size: Int, seed: UInt64) throws -> Tensor {
        if BuiltinDatasets.kind(name) == .points {
            return try BuiltinDatasets.load(name, size: size, seed: seed, directory: builtinDirectory)!
        }
        if let cached = cache.withLock({ $0[name] }) { return cached }
        let t: Tensor
        if let builtin = try BuiltinDatasets.load(name, size: size, seed: seed, directory: builtinDirectory) {
            t = builtin
        } else {
            guard try store.dataset(name) != nil, let data = artifacts.read(artifacts.dataset(name)),
                  let stored = try Safetensors.read(data)["data"] else { throw Unknown(name: name) }
            t = stored
        }
        cache.withLock { c in
            if c.count > 8 { c.removeAll() }
            c[name] = t
        }
        return t
    }

    /// Stores an upload; returns its record.
    func add(name: String, kind: DataKind, data: Tensor) throws -> DatasetRecord {
        let rec = DatasetRecord(id: newID("d"), name: name, kind: kind, count: data.shape[0],
                                shape: Array(data.shape.dropFirst()), createdAt: Date().timeIntervalSince1970)
        try artifacts.write(Safetensors.write([("data", data)], metadata: ["name": name, "kind": kind.rawValue]),
                            to: artifacts.dataset(rec.id))
        try store.insert(rec)
        return rec
    }

    func remove(_ id: String) throws {
        try store.deleteDataset(id)
        artifacts.remove(artifacts.dataset(id))
        cache.withLock { $0[id] = nil }
    }
}
