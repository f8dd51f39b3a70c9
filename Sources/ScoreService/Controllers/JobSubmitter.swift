import Foundation
import HTTPServer
import ScoreEngine

/// Queues jobs and answers with them.
struct JobSubmitter: Sendable {
    let store: any RecordStore
    let runner: JobRunner
    let renderer: JobRenderer
    let maxQueuedJobs: Int

    /// Queues a job owned by the caller; a full lane, or a key at its limit of jobs, is a 429 with
    /// `Retry-After`. Idempotency keys are the caller's own: another key's same header makes another job.
    /// `pinned`: only this node's workers may run it (its results stream from this process).
    func submit(_ kind: JobKind, params: JSONValue, key: String?, prepared: (any Sendable)? = nil, pinned: Bool = false) throws -> (job: JobRecord, created: Bool) {
        let caller = Caller.current
        let scopedKey = key.map { k in caller.owner.map { "\($0)/\(k)" } ?? k }
        let record = JobRecord(id: newID("j"), kind: kind, params: params, createdAt: Date().timeIntervalSince1970, idempotencyKey: scopedKey,
                               owner: caller.owner, node: pinned ? runner.node : nil)
        do {
            // The key's limit is checked where the job is inserted, so that it holds across nodes.
            return try runner.submit(record, prepared: prepared, ownerLimit: caller.owner != nil ? caller.limits?.maxJobs : nil)
        } catch let e as OwnerLimitReached {
            throw limitReached("this key has \(e.limit) queued or running jobs, its limit; retry when one ends", retryAfter: 10)
        } catch let e as QueueFull {
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
