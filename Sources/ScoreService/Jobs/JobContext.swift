import Foundation
import Logging
import ScoreEngine

/// What a running job may use: the records and files, the catalogs, its compute threads, and its own live
/// state (progress, stop requests), and whatever the submitting request prepared for it.
struct JobContext: Sendable {
    let store: any RecordStore
    let artifacts: Artifacts
    let results: ResultStore
    let models: ModelCache
    let datasets: DatasetCatalog
    let logger: Logger
    let threads: Int
    let checkpointEverySeconds: Double
    let live: RunningJob
    /// Work the request already did (a sampler built, a model loaded); nil after a restart.
    let prepared: (any Sendable)?
    let hub: JobHub
    /// The claim it runs under: what it writes lands only while the claim holds.
    let fence: Fence
    /// The sampling lane's shared evaluations (jobs sampling the same model batch their network evaluations).
    let evaluations: SharedEvaluations

    /// Publishes progress (kept in memory; the store gets it at checkpoints and at the end). It is announced to
    /// the job's watchers (event streams, waiting requests, each of which reads the job again) at most every
    /// 0.1 s, and at its end: a sampler reports after every step, thousands of times a second for a small model.
    func report(_ p: JobProgress) {
        // Chunks report from several threads, an older fraction sometimes after a newer one: progress only advances.
        let advanced = live.progress.withLock { old -> Bool in
            guard old.map({ p.step >= $0.step }) ?? true else { return false }
            old = p
            return true
        }
        guard advanced else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let due = live.announced.withLock { last in
            // (Chunks report from several threads: `now` may be older than the last announcement.)
            guard now >= last &+ 100_000_000 else { return false }
            last = now
            return true
        }
        if due || p.step >= p.total { hub.changed(live.id) }
    }
}

/// A kind of job: runs one claimed job to its outcome.
protocol JobExecutor: Sendable {
    func run(_ job: JobRecord, _ context: JobContext) throws -> JobOutcome
}

enum JobOutcome {
    /// Its result, and the model a training job made (recorded with the outcome, in one transaction).
    case succeeded(JSONValue, model: ModelRecord? = nil)
    case failed(String)
    case canceled
    /// Stopped by a shutdown: back to the queue.
    case interrupted
}
