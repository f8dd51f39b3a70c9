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

    /// An upload's record if the caller may use it (built-in sets are everyone's; another key's upload is
    /// unknown to it).
    func record(_ id: String) throws -> DatasetRecord? {
        guard let d = try store.dataset(id), Caller.current.sees(d.owner) else { return nil }
        return d
    }

    /// What a data set holds, nil if there is no such data set.
    func kind(of name: String) throws -> DataKind? {
        if let k = BuiltinDatasets.kind(name) { return k }
        return try record(name)?.kind
    }

    /// The shape of one item ([2] for points, [1, 28, 28] for MNIST), nil if unknown.
    func itemShape(_ name: String) throws -> [Int]? {
        if let s = BuiltinDatasets.itemShape(name) { return s }
        return try record(name)?.shape
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
        if BuiltinDatasets.kind(name) == nil, try record(name) == nil { throw Unknown(name: name) }
        if let cached = cache.withLock({ $0[name] }) { return cached }
        let t: Tensor
        if let builtin = try BuiltinDatasets.load(name, size: size, seed: seed, directory: builtinDirectory) {
            t = builtin
        } else {
            guard let data = try artifacts.read(artifacts.dataset(name)),
                  let stored = try Safetensors.read(data)["data"] else { throw Unknown(name: name) }
            t = stored
        }
        cache.withLock { c in
            if c.count > 8 { c.removeAll() }
            c[name] = t
        }
        return t
    }

    /// The labels of the items `load` gives for the same arguments (nil for a set without labels): built-in
    /// sets with classes, uploads stored with a `labels` tensor.
    func labels(_ name: String, size: Int, seed: UInt64) throws -> [Int]? {
        if BuiltinDatasets.kind(name) != nil {
            return try BuiltinDatasets.labels(name, size: size, seed: seed, directory: builtinDirectory)
        }
        guard let rec = try record(name), let data = try artifacts.read(artifacts.dataset(name)) else { throw Unknown(name: name) }
        guard rec.classes != nil else { return nil }
        return try Safetensors.read(data)["labels"].map { $0.scalars.map { Int($0) } }
    }

    /// Labelled data to measure a classifier trained on `name` with: a built-in set's held-out data
    /// (`BuiltinDatasets.heldOut`), else the upload's own items (`source` says which).
    func heldOut(_ name: String, count: Int, seed: UInt64) throws -> (data: Tensor, labels: [Int], source: String)? {
        if BuiltinDatasets.kind(name) != nil { return try BuiltinDatasets.heldOut(name, count: count, seed: seed, directory: builtinDirectory) }
        let data = try load(name, size: count, seed: seed)
        guard let labels = try labels(name, size: count, seed: seed) else { return nil }
        let k = min(count, data.shape[0])
        return (data.rows(0..<k), Array(labels.prefix(k)), "\(name), the training data")
    }

    /// Stores an upload of `bytes` bytes owned by the caller (its artifact, then its record) and returns its record;
    /// with `uploadLimit`, refused (`UploadLimitReached`, the artifact removed) when its owner's uploads would
    /// exceed that many bytes.
    func add(name: String, kind: DataKind, data: Tensor, labels: [Int]? = nil, bytes: Int = 0, uploadLimit: Int? = nil) throws -> DatasetRecord {
        let rec = DatasetRecord(id: newID("d"), name: name, kind: kind, count: data.shape[0],
                                shape: Array(data.shape.dropFirst()), createdAt: Date().timeIntervalSince1970,
                                classes: labels.map { ($0.max() ?? 0) + 1 }, owner: Caller.current.owner, bytes: bytes)
        var tensors = [("data", data)]
        if let labels { tensors.append(("labels", Tensor(shape: [labels.count], scalars: labels.map { Float($0) }))) }
        try artifacts.write(Safetensors.write(tensors, metadata: ["name": name, "kind": kind.rawValue]),
                            to: artifacts.dataset(rec.id))
        do { try store.insert(rec, uploadLimit: uploadLimit) } catch {
            artifacts.remove(artifacts.dataset(rec.id))
            throw error
        }
        return rec
    }

    /// Sets (or replaces) the labels of an upload: one per item.
    func setLabels(_ labels: [Int], dataset id: String) throws -> DatasetRecord {
        guard var rec = try record(id), let bytes = try artifacts.read(artifacts.dataset(id)),
              let data = try Safetensors.read(bytes)["data"] else { throw Unknown(name: id) }
        guard labels.count == rec.count else { throw InvalidParameter("body", "\(labels.count) labels for the \(rec.count) items of \(id)") }
        try artifacts.write(Safetensors.write([("data", data), ("labels", Tensor(shape: [labels.count], scalars: labels.map { Float($0) }))],
                                              metadata: ["name": rec.name, "kind": rec.kind.rawValue]), to: artifacts.dataset(id))
        rec.classes = (labels.max() ?? 0) + 1
        try store.setClasses(rec.classes, dataset: id)
        return rec
    }

    /// The number of classes of a data set's labels, nil when it has none (or there is no such set).
    func classes(_ name: String) throws -> Int? {
        if BuiltinDatasets.kind(name) != nil { return BuiltinDatasets.classes(name) }
        return try record(name)?.classes
    }

    func remove(_ id: String) throws {
        try store.deleteDataset(id)
        artifacts.remove(artifacts.dataset(id))
        cache.withLock { $0[id] = nil }
    }
}
