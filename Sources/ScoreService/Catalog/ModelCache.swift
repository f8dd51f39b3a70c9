import Foundation
import ScoreEngine
import Synchronization

/// Trained models by id, loaded from their checkpoints (a few kept in memory), with the preset they were
/// trained from; and the analytic targets, which sample like models.
final class ModelCache: @unchecked Sendable {
    let store: any RecordStore
    let artifacts: Artifacts
    private let cache = Mutex<[(String, LoadedModel)]>([])

    init(store: any RecordStore, artifacts: Artifacts) {
        self.store = store
        self.artifacts = artifacts
    }

    struct Unknown: Error, CustomStringConvertible {
        let id: String
        var description: String { "unknown model \(id)" }
    }

    /// A model the caller may use (another key's is `Unknown`).
    func load(_ id: String) throws -> LoadedModel {
        if let m = cache.withLock({ c in c.first { $0.0 == id }?.1 }) {
            guard Caller.current.sees(m.owner) else { throw Unknown(id: id) }
            return m
        }
        guard let record = try store.model(id), Caller.current.sees(record.owner),
              let data = try artifacts.read(artifacts.checkpoint(id)) else { throw Unknown(id: id) }
        let m = LoadedModel(id: id, model: try ScoreModel.load(checkpoint: data).model, info: ModelInfo(record.info), owner: record.owner)
        cache.withLock { c in
            c.insert((id, m), at: 0)
            if c.count > 8 { c.removeLast() }
        }
        return m
    }

    /// The caller's most recently trained score model (classifiers are not sampled on their own).
    func latest() throws -> LoadedModel? {
        guard let record = try store.models(limit: 10_000, owner: Caller.current.listingOwner).first(where: { !ModelInfo($0.info).isClassifier }) else { return nil }
        return try load(record.id)
    }

    func forget(_ id: String) { cache.withLock { c in c.removeAll { $0.0 == id } } }
}

/// A model with what the store knows of it.
struct LoadedModel: Sendable {
    let id: String
    let model: ScoreModel
    let info: ModelInfo
    /// The key whose job trained it.
    let owner: String?

    var preset: Preset? { info.preset.flatMap(Presets.named) }
}
