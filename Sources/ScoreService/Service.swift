import Dispatch
import Foundation
import HTTPServer
import Logging
import ScoreEngine
import Synchronization

/// The whole application in one process: the HTTP server answering the API and the page, the job runner's
/// lanes, and the embedded store under one data directory.
public final class Service: @unchecked Sendable {
    public let config: ServiceConfig
    let logger: Logger
    let store: SQLiteStore
    let artifacts: Artifacts
    let hub = JobHub()
    let metrics = Metrics()
    let runner: JobRunner
    let datasets: DatasetCatalog
    let models: ModelCache
    let router: Router
    private(set) var server: HTTPServer!
    let startedAt = Date()
    let stopping = Atomic<Bool>(false)
    /// Rendered `GET /jobs/{id}` bodies by job, with the hub version they show.
    let renderedJobs = Mutex<[String: (version: Int, body: [UInt8])]>([:])
    private let retentionWake = NSCondition()

    public init(config: ServiceConfig, logger: Logger = Logger(label: "scored")) throws {
        Engine.configure()
        self.config = config
        self.logger = logger
        let root = URL(fileURLWithPath: config.dataDir, isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        artifacts = try Artifacts(root: root)
        artifacts.cleanTemporary()
        store = try SQLiteStore(path: root.appendingPathComponent("store.db").path)
        datasets = DatasetCatalog(store: store, artifacts: artifacts,
                                  builtinDirectory: URL(fileURLWithPath: config.datasetsDir, isDirectory: true))
        models = ModelCache(store: store, artifacts: artifacts)
        runner = JobRunner(store: store, artifacts: artifacts, config: config, hub: hub, logger: logger,
                           datasets: datasets, models: models, metrics: metrics)
        router = Router(metrics: metrics, logger: logger)
        registerRoutes()
        let m = metrics
        server = HTTPServer(configuration: config.httpConfiguration, responder: router, logger: logger,
                            errorResponse: { APIError.httpLayer($0, $1) },
                            metrics: { m.request(route: "unparsed", method: "-", status: $0, seconds: 0) })
    }

    /// The port the server listens on (after `start`).
    public var port: Int { server.port }

    /// The routes the server answers (method and pattern).
    public var routeTable: [(method: String, pattern: String)] { router.table }

    public func start() throws {
        try runner.start()
        try server.start()
        let t = Thread { [self] in retentionLoop() }
        t.name = "retention"
        t.start()
        logger.info("scored started", metadata: ["data_dir": "\(config.dataDir)", "port": "\(port)"])
    }

    /// Stops accepting, lets responses in flight finish, interrupts running jobs (training saves its state;
    /// both go back to the queue), and returns when done.
    public func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        logger.notice("stopping")
        retentionWake.lock()
        retentionWake.broadcast()
        retentionWake.unlock()
        let serverDone = DispatchSemaphore(value: 0)
        let server = self.server!
        DispatchQueue.global().async {
            server.shutdown(grace: 15)
            serverDone.signal()
        }
        runner.stop(timeout: 60)
        serverDone.wait()
        logger.notice("stopped")
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully.
    public func runUntilSignal() {
        let done = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { done.signal() }
            s.resume()
            sources.append(s)
        }
        done.wait()
        stop()
        _ = sources
    }

    /// Deletes finished jobs (with their results), and models, older than the retention time.
    func sweep(now: Double = Date().timeIntervalSince1970) {
        guard config.retentionHours > 0 else { return }
        let before = now - config.retentionHours * 3600
        do {
            for job in try store.expiredJobs(before: before) { try deleteJob(job) }
            for model in try store.expiredModels(before: before) { try deleteModel(model.id) }
        } catch {
            logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs a retention sweep as if it were `now` (for tests).
    public func sweepForTesting(now: Double) { sweep(now: now) }

    private func retentionLoop() {
        while !stopping.load(ordering: .relaxed) {
            sweep()
            retentionWake.lock()
            _ = retentionWake.wait(until: Date().addingTimeInterval(60))
            retentionWake.unlock()
        }
    }

    func deleteJob(_ job: JobRecord) throws {
        try store.deleteJob(job.id)
        for ext in ["json", "pgm.gz", "pgm"] { artifacts.remove(artifacts.result(job.id, ext)) }
        artifacts.remove(artifacts.state(job.id))
        renderedJobs.withLock { $0[job.id] = nil }
        hub.forget(job.id)
    }

    func deleteModel(_ id: String) throws {
        try store.deleteModel(id)
        artifacts.remove(artifacts.checkpoint(id))
        models.forget(id)
    }
}
