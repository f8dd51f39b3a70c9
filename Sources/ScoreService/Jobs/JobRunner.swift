import Foundation
import Logging
import ScoreEngine
import Synchronization

/// The job queue: per lane a number of worker threads claim the oldest queued job of their kinds from the
/// store and run it with its executor. Submissions past `maxQueuedJobs` in a lane are refused. `stop()`
/// interrupts running jobs: training saves its state and both kinds go back to `queued`, to resume when the
/// service starts.
final class JobRunner: @unchecked Sendable {
    struct Dependencies: Sendable {
        let store: any RecordStore
        let artifacts: Artifacts
        let results: ResultStore
        let models: ModelCache
        let datasets: DatasetCatalog
        let hub: JobHub
        let metrics: Metrics
        let logger: Logger
    }

    let deps: Dependencies
    let config: ServiceConfig
    let executors: [JobKind: any JobExecutor] = [.train: TrainingJob(), .sample: SamplingJob(), .likelihood: LikelihoodJob()]

    private let running = Mutex<[String: RunningJob]>([:])
    /// What requests prepared for the jobs they queued, by job id (taken when the job starts).
    private let prepared = Mutex<[String: any Sendable]>([:])
    private let wakeups: [Lane: NSCondition] = [.train: NSCondition(), .sample: NSCondition()]
    private let stopping = Atomic<Bool>(false)
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    init(_ deps: Dependencies, config: ServiceConfig) {
        self.deps = deps
        self.config = config
    }

    func start() throws {
        for job in try deps.store.requeueRunning() {
            deps.logger.notice("requeued after restart", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)"])
        }
        for lane in Lane.allCases {
            for k in 0..<(config.workers[lane] ?? 1) {
                finished.enter()
                let t = Thread { [self] in
                    lowerPriority()
                    work(lane)
                    finished.leave()
                }
                t.name = "\(lane.rawValue) worker \(k)"
                t.stackSize = 8 << 20
                t.start()
                threads.append(t)
            }
        }
    }

    /// Worker threads run at a lower priority than the HTTP threads, so that the API stays prompt while jobs
    /// keep every core busy.
    private func lowerPriority() {
        #if os(Linux)
        // On Linux a nice value set for a thread id applies to that thread only.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(linuxThreadID()), 5)
        #endif
    }

    struct QueueFull: Error { let lane: Lane }

    /// Queues a job (or returns the one its idempotency key already made), with what the request prepared for it.
    func submit(_ job: JobRecord, prepared work: (any Sendable)? = nil) throws -> (job: JobRecord, created: Bool) {
        let lane = job.kind.lane
        // A retry with a known key gets its job back, even when the queue is full.
        if let key = job.idempotencyKey, let existing = try deps.store.job(idempotencyKey: key) { return (existing, false) }
        if try deps.store.count(status: .queued, kinds: JobKind.allCases.filter { $0.lane == lane }) >= config.maxQueuedJobs {
            throw QueueFull(lane: lane)
        }
        if let work { prepared.withLock { $0[job.id] = work } }
        let r: (job: JobRecord, created: Bool)
        do { r = try deps.store.insert(job) } catch {
            prepared.withLock { $0[job.id] = nil }
            throw error
        }
        if r.created {
            deps.hub.changed(job.id)
            wake(lane)
        } else {
            prepared.withLock { $0[job.id] = nil }
        }
        return r
    }

    func wake(_ lane: Lane) {
        let c = wakeups[lane]!
        c.lock()
        c.broadcast()
        c.unlock()
    }

    /// Cancels a queued job at once, a running one when its worker notices (within a step or a few).
    func cancel(_ id: String) throws -> JobRecord? {
        guard var job = try deps.store.job(id) else { return nil }
        switch job.status {
        case .queued:
            job.status = .canceled
            job.finishedAt = Date().timeIntervalSince1970
            try deps.store.update(job)
            prepared.withLock { $0[id] = nil }
            deps.hub.changed(id)
        case .running:
            running.withLock { $0[id] }?.stop(interrupting: false)
        default:
            break
        }
        return try deps.store.job(id)
    }

    /// The series of a running training job.
    func liveHistory(_ id: String) -> TrainingHistory? {
        running.withLock { $0[id] }?.history.withLock { $0 }
    }

    /// The latest preview of a running job.
    func livePreview(_ id: String) -> (number: Int, body: JSONValue)? {
        running.withLock { $0[id] }?.preview.withLock { $0 }
    }

    /// The freshest progress of a running job.
    func liveProgress(_ id: String) -> JobProgress? {
        running.withLock { $0[id] }?.progress.withLock { $0 }
    }

    /// Sum of the training rates of running training jobs (steps/s).
    var trainingStepsPerSecond: Double {
        running.withLock { Array($0.values) }.compactMap { r -> Double? in
            guard let p = r.progress.withLock({ $0 }), p.loss != nil else { return nil }
            return p.rate
        }.reduce(0, +)
    }

    /// Interrupts running jobs (they save what they can and go back to the queue) and waits for the workers.
    func stop(timeout: Double = 30) {
        stopping.store(true, ordering: .relaxed)
        for r in running.withLock({ Array($0.values) }) { r.stop(interrupting: true) }
        for lane in Lane.allCases { wake(lane) }
        _ = finished.wait(timeout: .now() + timeout)
    }

    private func work(_ lane: Lane) {
        let kinds = JobKind.allCases.filter { $0.lane == lane }
        let wakeup = wakeups[lane]!
        while !stopping.load(ordering: .relaxed) {
            let job: JobRecord?
            do { job = try deps.store.claimNext(kinds: kinds, now: Date().timeIntervalSince1970) } catch {
                deps.logger.error("cannot claim a job", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            guard let job else {
                wakeup.lock()
                _ = wakeup.wait(until: Date().addingTimeInterval(1))
                wakeup.unlock()
                continue
            }
            execute(job)
        }
    }

    private func execute(_ job: JobRecord) {
        let live = RunningJob(id: job.id)
        running.withLock { $0[job.id] = live }
        defer { running.withLock { $0[job.id] = nil } }
        deps.hub.changed(job.id)
        deps.logger.info("job started", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)", "attempt": "\(job.attempts)"])
        let context = JobContext(
            store: deps.store, artifacts: deps.artifacts, results: deps.results, models: deps.models, datasets: deps.datasets,
            logger: deps.logger, threads: config.threads[job.kind.lane] ?? 2, checkpointEverySeconds: config.checkpointEverySeconds,
            live: live, prepared: prepared.withLock { $0.removeValue(forKey: job.id) }, hub: deps.hub)
        let outcome: JobOutcome
        do {
            outcome = try executors[job.kind]!.run(job, context)
        } catch is CancelledError {
            outcome = live.interrupted.load(ordering: .relaxed) ? .interrupted : .canceled
        } catch {
            outcome = .failed("\(error)")
        }
        // The store may be failing too (disk full); the job is then left running and requeued at start-up.
        do {
            guard var current = try deps.store.job(job.id) else { return }
            current.progress = live.progress.withLock { $0 } ?? current.progress
            switch outcome {
            case .succeeded(let result):
                current.status = .succeeded
                current.result = result
                current.finishedAt = Date().timeIntervalSince1970
            case .failed(let message):
                current.status = .failed
                current.error = message
                current.finishedAt = Date().timeIntervalSince1970
            case .canceled:
                current.status = .canceled
                current.finishedAt = Date().timeIntervalSince1970
            case .interrupted:
                current.status = .queued
            }
            try deps.store.update(current)
            deps.metrics.jobFinished(kind: job.kind, status: current.status)
            deps.logger.info("job \(current.status.rawValue)", metadata: ["job": "\(job.id)", "error": "\(current.error ?? "")"])
        } catch {
            deps.logger.error("cannot record the end of a job", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
        deps.hub.changed(job.id)
    }
}

#if os(Linux)
@_silgen_name("gettid")
private func linuxThreadID() -> Int32
#endif
