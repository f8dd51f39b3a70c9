import Foundation
import HTTPServer
import ScoreEngine

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
