import Foundation
import Logging
import ScoreEngine

/// Deletes jobs and models with everything that hangs off them (files, caches, change versions), for the
/// API's DELETEs and for retention.
struct Housekeeping: Sendable {
    let store: any RecordStore
    let artifacts: Artifacts
    let results: ResultStore
    let models: ModelCache
    let renderer: JobRenderer
    let hub: JobHub
    let logger: Logger

    func deleteJob(_ job: JobRecord) throws {
        try store.deleteJob(job.id)
        results.remove(job: job.id)
        artifacts.remove(artifacts.state(job.id))
        artifacts.remove(artifacts.history(job.id))
        renderer.forget(job.id)
        hub.forget(job.id)
        store.publish(.job(job.id, node: "-"))  // other nodes read it again (and find it gone)
    }

    func deleteModel(_ id: String) throws {
        try store.deleteModel(id)
        artifacts.remove(artifacts.checkpoint(id))
        models.forget(id)
    }

    /// Deletes finished jobs (with their results), and models, older than `hours` before `now`.
    func sweep(retentionHours hours: Double, now: Double = Date().timeIntervalSince1970) {
        guard hours > 0 else { return }
        let before = now - hours * 3600
        do {
            for job in try store.expiredJobs(before: before) { try deleteJob(job) }
            for model in try store.expiredModels(before: before) { try deleteModel(model.id) }
        } catch {
            logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
