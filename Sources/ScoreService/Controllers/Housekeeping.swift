import Foundation
import HTTPServer
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
        renderer.forget(job.id)
        hub.forget(job.id)
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

/// Queues jobs and answers with them.
struct JobSubmitter: Sendable {
    let runner: JobRunner
    let renderer: JobRenderer
    let maxQueuedJobs: Int

    /// Queues a job; a full lane is a 429 with `Retry-After`.
    func submit(_ kind: JobKind, params: JSONValue, key: String?, prepared: (any Sendable)? = nil) throws -> (job: JobRecord, created: Bool) {
        let record = JobRecord(id: newID("j"), kind: kind, params: params, createdAt: Date().timeIntervalSince1970, idempotencyKey: key)
        do {
            return try runner.submit(record, prepared: prepared)
        } catch let e as JobRunner.QueueFull {
            var err = APIError(status: 429, code: "queue_full", message: "the \(e.lane.rawValue) queue holds \(maxQueuedJobs) jobs; retry later")
            err.headers = [("Retry-After", "10")]
            throw err
        }
    }

    /// 202 with the job and its `Location` (200 when an idempotency key returned an existing one).
    func accepted(_ r: (job: JobRecord, created: Bool)) -> HTTPResponse {
        jsonResponse(r.created ? 202 : 200, renderer.json(r.job), headers: [("Location", "/jobs/\(r.job.id)")])
    }
}
