import Foundation
import Logging
import ScoreEngine
import Synchronization

/// The job queue: per lane a number of worker threads claim the oldest queued job of their kinds from the
/// store, under a lease, and run it with its executor. Submissions past `maxQueuedJobs` in a lane are
/// refused. `stop()` interrupts running jobs: training saves its state and both kinds go back to `queued`, to
/// resume when a worker claims them again.
///
/// On a shared store (PostgreSQL) a keeper thread renews the leases of the jobs running here (a job whose
/// lease is lost stops and records nothing: its new owner does), relays their progress and previews to the
/// store for the other nodes, and rescues jobs whose lease lapsed anywhere; a listener turns the other nodes'
/// events into local ones (a job changed, a cancellation, a job queued).
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
    /// This process's name among the nodes sharing the store (workers are `node/lane/k`).
    let node: String
    let executors: [JobKind: any JobExecutor] = [.train: TrainingJob(), .sample: SamplingJob(), .likelihood: LikelihoodJob()]

    private let running = Mutex<[String: RunningJob]>([:])
    /// Jobs running here by kind; its lock also makes a claim and its count one step, for `maxRunningPerNode`.
    private let runningKinds = Mutex<[JobKind: Int]>([:])
    /// What requests prepared for the jobs they queued, by job id (taken when the job starts).
    private let prepared = Mutex<[String: any Sendable]>([:])
    private let wakeups: [Lane: NSCondition] = [.train: NSCondition(), .sample: NSCondition()]
    private let stopping = Atomic<Bool>(false)
    private var threads: [Thread] = []
    private let finished = DispatchGroup()
    private var listener: PostgresListener?
    private let keeperWake = NSCondition()
    /// The sampling lane's compute slots, shared by its concurrent jobs, which batch their evaluations of the
    /// same model through it.
    let evaluations: SharedEvaluations

    init(_ deps: Dependencies, config: ServiceConfig, node: String) {
        self.deps = deps
        self.config = config
        self.node = node
        evaluations = SharedEvaluations(slots: config.threads[.sample] ?? 2)
    }

    func start() throws {
        if !deps.store.isShared {
            // One process owns the store: whatever it left running when it stopped runs no more.
            for job in try deps.store.requeueRunning(maxAttempts: config.maxAttempts) {
                deps.logger.notice(job.status == .failed ? "failed after restarts" : "requeued after restart",
                                   metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)", "attempts": "\(job.attempts)"])
            }
        }
        if let pg = deps.store as? PostgresStore {
            listener = pg.listen({ [weak self] e in self?.received(e) }, reconnected: { [weak self] in
                guard let self else { return }
                deps.logger.notice("event listener reconnected to the store")
                deps.hub.changedAll()
                for lane in Lane.allCases { wake(lane) }
            })
            spawn("keeper", lowPriority: false) { [self] in keep() }
        }
        for lane in Lane.allCases {
            for k in 0..<(config.workers[lane] ?? 1) {
                spawn("\(lane.rawValue) worker \(k)", lowPriority: true) { [self] in work(lane, worker: "\(node)/\(lane.rawValue)/\(k)") }
            }
        }
    }

    private func spawn(_ name: String, lowPriority: Bool, _ body: @escaping @Sendable () -> Void) {
        finished.enter()
        let t = Thread { [self] in
            if lowPriority { lowerPriority() }
            body()
            finished.leave()
        }
        t.name = name
        t.stackSize = 8 << 20
        t.start()
        threads.append(t)
    }

    /// Worker threads run at a lower priority (nice 5) than the HTTP threads, so that the API stays prompt
    /// while jobs keep every core busy; the threads a job starts (a run's chunks, the training's `WorkerPool`)
    /// inherit it. Not SCHED_IDLE: a job thread holding a lock the HTTP threads take (the SQLite store's, the
    /// job hub's) would then run at a weight of 3 against their 1024, and under load a request could wait
    /// behind it for long.
    private func lowerPriority() {
        #if os(Linux)
        // On Linux a nice value set for a thread id applies to that thread only.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(linuxThreadID()), 5)
        #endif
    }

    /// Queues a job (or returns the one its idempotency key already made), with what the request prepared for it.
    func submit(_ job: JobRecord, prepared work: (any Sendable)? = nil, ownerLimit: Int? = nil) throws -> (job: JobRecord, created: Bool) {
        let lane = job.kind.lane
        // A retry with a known key gets its job back, even when the queue is full.
        if let key = job.idempotencyKey, let existing = try deps.store.job(idempotencyKey: key) { return (existing, false) }
        if let work { prepared.withLock { $0[job.id] = work } }
        let r: (job: JobRecord, created: Bool)
        do { r = try deps.store.insert(job, queueCap: config.maxQueuedJobs, ownerLimit: ownerLimit) } catch {
            prepared.withLock { $0[job.id] = nil }
            throw error
        }
        if r.created {
            signal(job.id)
            wake(lane)
            deps.store.publish(.wake(lane))
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

    /// A job changed here: the local streams, and the other nodes.
    func signal(_ id: String) {
        deps.hub.changed(id)
        deps.store.publish(.job(id, node: node))
    }

    /// What another node said.
    private func received(_ e: StoreEvent) {
        switch e {
        case .job(let id, let from): if from != node { deps.hub.changed(id) }
        case .cancel(let id): running.withLock { $0[id] }?.stop(interrupting: false)
        case .wake(let lane): wake(lane)
        }
    }

    /// Cancels a queued job at once, a running one when its worker notices (within a step or a few; on another
    /// node, as soon as its listener hears).
    func cancel(_ id: String) throws -> JobRecord? {
        guard let job = try deps.store.job(id) else { return nil }
        if job.status == .queued, try deps.store.cancelQueued(id, at: Date().timeIntervalSince1970) {
            prepared.withLock { $0[id] = nil }
            signal(id)
        } else if !job.status.isFinished {
            if let live = running.withLock({ $0[id] }) {
                live.stop(interrupting: false)
            } else if try deps.store.requestCancel(id) {
                deps.store.publish(.cancel(id))
            } else if try deps.store.cancelQueued(id, at: Date().timeIntervalSince1970) {
                // It went back to the queue meanwhile (its worker stopped).
                prepared.withLock { $0[id] = nil }
                signal(id)
            }
        }
        return try deps.store.job(id)
    }

    /// The series of a running training job.
    func liveHistory(_ id: String) -> TrainingHistory? {
        running.withLock { $0[id] }?.history.withLock { $0 }
    }

    /// The latest preview of a job: in memory while it runs here, else from the store (another node runs it, or
    /// it has ended and its last preview was kept).
    func livePreview(_ id: String) -> (number: Int, body: JSONValue)? {
        if let live = running.withLock({ $0[id] }) { return live.preview.withLock { $0 } }
        return (try? deps.store.preview(id)) ?? nil
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
        keeperWake.lock()
        keeperWake.broadcast()
        keeperWake.unlock()
        _ = finished.wait(timeout: .now() + timeout)
        listener?.stop()
    }

    private func work(_ lane: Lane, worker: String) {
        let kinds = JobKind.allCases.filter { $0.lane == lane }
        let wakeup = wakeups[lane]!
        while !stopping.load(ordering: .relaxed) {
            let job: JobRecord?
            do {
                let now = Date().timeIntervalSince1970
                if kinds.contains(where: { $0.maxRunningPerNode != nil }) {
                    job = try runningKinds.withLock { counts -> JobRecord? in
                        let open = kinds.filter { k in k.maxRunningPerNode.map { (counts[k] ?? 0) < $0 } ?? true }
                        guard !open.isEmpty, let j = try deps.store.claimNext(kinds: open, now: now, worker: worker,
                                                                               leaseSeconds: config.leaseSeconds) else { return nil }
                        counts[j.kind, default: 0] += 1
                        return j
                    }
                } else {
                    job = try deps.store.claimNext(kinds: kinds, now: now, worker: worker, leaseSeconds: config.leaseSeconds)
                    if let job { runningKinds.withLock { $0[job.kind, default: 0] += 1 } }
                }
            } catch {
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
            execute(job, worker: worker)
            runningKinds.withLock { $0[job.kind, default: 1] -= 1 }
            // A worker that passed over a kind at its limit may be waiting: another may now take it.
            if job.kind.maxRunningPerNode != nil { wake(lane) }
        }
    }

    private func execute(_ job: JobRecord, worker: String) {
        let fence = Fence(job: job.id, attempt: job.attempts)
        let live = RunningJob(id: job.id, fence: fence)
        running.withLock { $0[job.id] = live }
        defer { running.withLock { $0[job.id] = nil } }
        signal(job.id)
        deps.logger.info("job started", metadata: ["job": "\(job.id)", "kind": "\(job.kind.rawValue)", "attempt": "\(job.attempts)",
                                                   "worker": "\(worker)"])
        let context = JobContext(
            store: deps.store, artifacts: deps.artifacts, results: deps.results, models: deps.models, datasets: deps.datasets,
            logger: deps.logger, threads: config.threads[job.kind.lane] ?? 2, checkpointEverySeconds: config.checkpointEverySeconds,
            live: live, prepared: prepared.withLock { $0.removeValue(forKey: job.id) }, hub: deps.hub, fence: fence,
            evaluations: evaluations)
        // Claimed while the service began stopping: straight back to the queue.
        if stopping.load(ordering: .relaxed) { live.stop(interrupting: true) }
        let outcome: JobOutcome
        do {
            outcome = try executors[job.kind]!.run(job, context)
        } catch is CancelledError {
            outcome = live.cancelled.load(ordering: .relaxed) ? .canceled : .interrupted
        } catch is LeaseLost {
            live.leaseLost.store(true, ordering: .relaxed)
            outcome = .interrupted
        } catch where PostgresDatabase.isTransient(error) {
            // The database went away under the job (not the job's fault): back to the queue, or to the rescue.
            deps.logger.warning("job interrupted: the store is unreachable", metadata: ["job": "\(job.id)", "error": "\(error)"])
            outcome = .interrupted
        } catch {
            outcome = .failed("\(error)")
        }
        if live.leaseLost.load(ordering: .relaxed) {
            deps.logger.warning("job abandoned: its lease was lost; the worker that took it over records it",
                                metadata: ["job": "\(job.id)", "attempt": "\(job.attempts)"])
            deps.hub.changed(job.id)
            return
        }
        record(outcome, of: job, live: live, fence: fence)
        signal(job.id)
    }

    /// Writes a job's outcome under its claim. A store that fails for a moment is tried again for up to a lease
    /// (the write is idempotent); if it stays away, the job is left running and requeued at start-up or when its
    /// lease lapses. A finished training job's saved state goes once the outcome is recorded.
    private func record(_ outcome: JobOutcome, of job: JobRecord, live: RunningJob, fence: Fence) {
        let deadline = Date().addingTimeInterval(deps.store.isShared ? config.leaseSeconds : 0)
        // The last preview outlives the job that ends, so that an event stream opened after the end still shows
        // it (a short job may end before its watcher connects). Written while the claim still holds.
        var ends = true
        if case .interrupted = outcome { ends = false }
        if ends, let p = live.preview.withLock({ $0 }) {
            do {
                try deps.store.setPreview(fence, number: p.number, body: p.body)
            } catch {
                deps.logger.warning("cannot keep a job's last preview", metadata: ["job": "\(job.id)", "error": "\(error)"])
            }
        }
        var model: ModelRecord? = nil
        while true {
            do {
                guard var current = try deps.store.job(job.id) else { return }
                current.progress = live.progress.withLock { $0 } ?? current.progress
                let now = Date().timeIntervalSince1970
                switch outcome {
                case .succeeded(let result, let made):
                    current.status = .succeeded
                    current.result = result
                    current.finishedAt = now
                    model = made
                case .failed(let message):
                    current.status = .failed
                    current.error = message
                    current.finishedAt = now
                case .canceled:
                    current.status = .canceled
                    current.finishedAt = now
                case .interrupted:
                    // A cancel asked while it was being interrupted is honoured now.
                    let canceled = current.cancelRequested || live.cancelled.load(ordering: .relaxed)
                    current.status = canceled ? .canceled : .queued
                    if canceled { current.finishedAt = now }
                }
                if try deps.store.update(current, fence: fence, model: model) {
                    deps.metrics.jobFinished(kind: job.kind, status: current.status)
                    deps.logger.info("job \(current.status.rawValue)", metadata: ["job": "\(job.id)", "error": "\(current.error ?? "")"])
                    if current.status == .queued { deps.store.publish(.wake(job.kind.lane)) }
                    if job.kind == .train && current.status.isFinished { deps.artifacts.remove(deps.artifacts.state(job.id)) }
                } else if let now = try deps.store.job(job.id), now.status == current.status, now.attempts == fence.attempt,
                          model.map({ (try? deps.store.model($0.id)) != nil }) ?? true {
                    // A retry of a write that had landed (its COMMIT's answer was lost): recorded already.
                    deps.metrics.jobFinished(kind: job.kind, status: current.status)
                    if job.kind == .train && current.status.isFinished { deps.artifacts.remove(deps.artifacts.state(job.id)) }
                } else {
                    deps.logger.warning("job's outcome not recorded: its claim was taken over", metadata: ["job": "\(job.id)", "attempt": "\(job.attempts)"])
                    if let model, (try? deps.store.model(model.id)) == nil { deps.artifacts.remove(deps.artifacts.checkpoint(model.id)) }
                }
                return
            } catch where PostgresDatabase.isTransient(error) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.5)
            } catch {
                deps.logger.error("cannot record the end of a job", metadata: ["job": "\(job.id)", "error": "\(error)"])
                return
            }
        }
    }

    // MARK: the keeper (shared stores)

    /// Every quarter second: renews the leases of the jobs running here (a third of a lease apart), relays
    /// their progress, previews and loss series to the store, and rescues lapsed leases (half a lease apart).
    private func keep() {
        var beats: [String: (at: Double, ok: Double)] = [:]
        var relayed: [String: (version: Int, preview: Int, historyAt: Double)] = [:]
        var lastRescue = 0.0
        let lease = config.leaseSeconds
        while true {
            let now = ProcessInfo.processInfo.systemUptime
            let live = running.withLock { Array($0.values) }
            // Stopping: the keeper goes last, so that the leases of jobs saving their state hold until they are done.
            if stopping.load(ordering: .relaxed) && live.isEmpty { break }
            let ids = Set(live.map(\.id))
            beats = beats.filter { ids.contains($0.key) }
            relayed = relayed.filter { ids.contains($0.key) }
            for r in live {
                let fence = r.fence
                var b = beats[r.id] ?? (at: now, ok: now)
                if now - b.at >= lease / 3 {
                    b.at = now
                    do {
                        switch try deps.store.heartbeat(fence, leaseSeconds: lease) {
                        case .held(let cancel):
                            b.ok = now
                            if cancel { r.stop(interrupting: false) }
                        case .lost:
                            loseLease(r, fence, "it was taken over")
                        }
                    } catch {
                        deps.logger.warning("cannot renew a lease", metadata: ["job": "\(r.id)", "error": "\(error)"])
                    }
                }
                // Without the database for two thirds of a lease, the job stops before another node can take it.
                if now - b.ok >= lease * 2 / 3 { loseLease(r, fence, "the store was unreachable for two thirds of a lease") }
                beats[r.id] = b
                relay(r, fence, &relayed, now: now)
            }
            if now - lastRescue >= lease / 2 {
                lastRescue = now
                do {
                    for j in try deps.store.rescueLapsed(maxAttempts: config.maxAttempts) {
                        let what = j.status == .queued ? "job requeued: its lease lapsed" : "job \(j.status.rawValue) by the rescue"
                        deps.logger.notice("\(what)", metadata: ["job": "\(j.id)", "lost": "\(j.lost)", "error": "\(j.error ?? "")"])
                        if j.kind == .train && j.status.isFinished { deps.artifacts.remove(deps.artifacts.state(j.id)) }
                        signal(j.id)
                        deps.store.publish(.wake(j.kind.lane))
                        wake(j.kind.lane)
                    }
                } catch {
                    deps.logger.warning("cannot rescue lapsed jobs", metadata: ["error": "\(error)"])
                }
            }
            keeperWake.lock()
            _ = keeperWake.wait(until: Date().addingTimeInterval(0.25))
            keeperWake.unlock()
        }
    }

    private func loseLease(_ r: RunningJob, _ fence: Fence, _ why: String) {
        guard !r.leaseLost.exchange(true, ordering: .relaxed) else { return }
        deps.logger.warning("lease lost: stopping the job (\(why))", metadata: ["job": "\(r.id)", "attempt": "\(fence.attempt)"])
        r.stop(interrupting: true)
    }

    /// Writes what changed of a running job since the last relay (progress, a new preview, the loss series
    /// every two seconds) and tells the other nodes.
    private func relay(_ r: RunningJob, _ fence: Fence, _ relayed: inout [String: (version: Int, preview: Int, historyAt: Double)], now: Double) {
        let version = deps.hub.version(r.id)
        var seen = relayed[r.id] ?? (version: -1, preview: 0, historyAt: 0)
        guard version != seen.version, !r.leaseLost.load(ordering: .relaxed) else { return }
        seen.version = version
        do {
            if let p = r.progress.withLock({ $0 }) { _ = try deps.store.setProgress(fence, p) }
            if let p = r.preview.withLock({ $0 }), p.number != seen.preview {
                try deps.store.setPreview(fence, number: p.number, body: p.body)
                seen.preview = p.number
            }
            if now - seen.historyAt >= 2, let h = r.history.withLock({ $0 }) {
                try deps.artifacts.write(Data(h.stored.serialized.utf8), to: deps.artifacts.history(r.id), fence: fence)
                seen.historyAt = now
            }
            deps.store.publish(.job(r.id, node: node))
        } catch {
            deps.logger.debug("cannot relay a job's progress", metadata: ["job": "\(r.id)", "error": "\(error)"])
        }
        relayed[r.id] = seen
    }
}
#if os(Linux)
@_silgen_name("gettid")
private func linuxThreadID() -> Int32
#endif
