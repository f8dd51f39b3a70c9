import Foundation
import ScoreEngine
import Synchronization

/// Data sets by name: the built-in point generators (drawn with a seed), the built-in image sets (MNIST's
/// training and test images, from `builtinDirectory/mnist`) and uploads (by id, from the store).
final class DatasetCatalog: @unchecked Sendable {
    let store: any JobStore
    let artifacts: Artifacts
    let builtinDirectory: URL
    private let cache = Mutex<[String: Tensor]>([:])

    init(store: any JobStore, artifacts: Artifacts, builtinDirectory: URL) {
        self.store = store
        self.artifacts = artifacts
        self.builtinDirectory = builtinDirectory
    }

    /// The built-in image sets and their MNIST split.
    static let builtinImages: [String: MNIST.Split] = ["mnist": .train, "mnist_test": .test]

    struct Unknown: Error, CustomStringConvertible {
        let name: String
        var description: String { "unknown data set \(name)" }
    }

    static var builtinNames: [String] { Toy2D.allCases.map(\.rawValue) + ["mnist", "mnist_test"] }

    func exists(_ name: String) throws -> Bool {
        try Toy2D(rawValue: name) != nil || DatasetCatalog.builtinImages[name] != nil || store.dataset(name) != nil
    }

    /// The shape of one item of a data set ([2] for points, [1, 28, 28] for MNIST), nil if unknown.
    func itemShape(_ name: String) throws -> [Int]? {
        if Toy2D(rawValue: name) != nil { return [2] }
        if DatasetCatalog.builtinImages[name] != nil { return [1, 28, 28] }
        return try store.dataset(name)?.shape
    }

    /// Whether a data set holds images.
    func isImages(_ name: String) throws -> Bool { (try itemShape(name))?.count == 3 }

    /// The data for a name: `size` fresh points of a generator (seeded as the CLI does), or an upload.
    func load(_ name: String, size: Int, seed: UInt64) throws -> Tensor {
        if let toy = Toy2D(rawValue: name) {
            var rng = Philox(seed: seed).derived(0xDA7A)
            return toy.sample(size, rng: &rng)
        }
        if let cached = cache.withLock({ $0[name] }) { return cached }
        if let split = DatasetCatalog.builtinImages[name] {
            let t = try MNIST.load(split, from: builtinDirectory.appendingPathComponent("mnist"))
            cache.withLock { $0[name] = t }
            return t
        }
        guard try store.dataset(name) != nil, let data = artifacts.read(artifacts.dataset(name)),
              let t = try Safetensors.read(data)["data"] else { throw Unknown(name: name) }
        cache.withLock { c in
            if c.count > 8 { c.removeAll() }
            c[name] = t
        }
        return t
    }

    /// Stores an upload; returns its record.
    func add(name: String, kind: String, data: Tensor) throws -> DatasetRecord {
        let rec = DatasetRecord(id: newID("d"), name: name, kind: kind, count: data.shape[0],
                                shape: Array(data.shape.dropFirst()), createdAt: Date().timeIntervalSince1970)
        try artifacts.write(Safetensors.write([("data", data)], metadata: ["name": name, "kind": kind]),
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

/// Loaded models by id (a few kept in memory).
final class ModelCache: @unchecked Sendable {
    let store: any JobStore
    let artifacts: Artifacts
    private let cache = Mutex<[(String, ScoreModel)]>([])

    init(store: any JobStore, artifacts: Artifacts) {
        self.store = store
        self.artifacts = artifacts
    }

    struct Unknown: Error, CustomStringConvertible {
        let id: String
        var description: String { "unknown model \(id)" }
    }

    func load(_ id: String) throws -> ScoreModel {
        if let m = cache.withLock({ c in c.first { $0.0 == id }?.1 }) { return m }
        guard try store.model(id) != nil, let data = artifacts.read(artifacts.checkpoint(id)) else { throw Unknown(id: id) }
        let m = try ScoreModel.load(checkpoint: data).model
        cache.withLock { c in
            c.insert((id, m), at: 0)
            if c.count > 8 { c.removeLast() }
        }
        return m
    }

    func forget(_ id: String) { cache.withLock { c in c.removeAll { $0.0 == id } } }
}
