import Dispatch
import Foundation
import HTTPServer
import Logging
import ScoreEngine
import Synchronization

/// The whole application in one process, put together here: the store (SQLite and files under the data
/// directory, or PostgreSQL for both), the catalogs, the job runner's lanes, one controller per resource on the
/// router (metrics and access logging around every request), and the HTTP server. As a worker node
/// (`Role.worker`) it runs the lanes only, with at most a health and metrics listener.
public final class Service: @unchecked Sendable {
    public enum Role: Sendable, Equatable {
        /// The API (and the page), with the workers the configuration asks for (`scored serve`).
        case server
        /// Workers only; `health` serves `/healthz` and `/metrics` on the configured port (`scored worker`).
        case worker(health: Bool)
    }

    public let config: ServiceConfig
    public let role: Role
    /// This process's name among the nodes sharing the store.
    public let node: String
    let logger: Logger
    let store: any RecordStore
    let runner: JobRunner
    let housekeeping: Housekeeping
    let router = Router()
    private(set) var server: HTTPServer?
    let stopping = StopFlag()
    private let retentionWake = NSCondition()

    public init(config: ServiceConfig, logger: Logger = Logger(label: "scored"), role: Role = .server) throws {
        Engine.configure()
        try config.validate()
        if case .worker = role, config.workers.values.allSatisfy({ $0 == 0 }) {
            throw ServiceConfig.Invalid(description: "a worker node needs workers: workers.train and workers.sample are both 0")
        }
        self.config = config
        self.role = role
        self.logger = logger
        let node = config.nodeName ?? Service.defaultNodeName()
        self.node = node
        let (store, artifacts) = try Service.openStore(config, node: node, ownsDataDir: true)
        self.store = store
        let hub = JobHub(), metrics = Metrics()
        let results = ResultStore(artifacts: artifacts)
        let datasets = DatasetCatalog(store: store, artifacts: artifacts,
                                      builtinDirectory: URL(fileURLWithPath: config.datasetsDir, isDirectory: true))
        let models = ModelCache(store: store, artifacts: artifacts)
        runner = JobRunner(.init(store: store, artifacts: artifacts, results: results, models: models, datasets: datasets,
                                 hub: hub, metrics: metrics, logger: logger), config: config, node: node)
        let renderer = JobRenderer(store: store, runner: runner, hub: hub)
        housekeeping = Housekeeping(store: store, artifacts: artifacts, results: results, models: models, renderer: renderer,
                                    hub: hub, logger: logger)
        let submitter = JobSubmitter(store: store, runner: runner, renderer: renderer, maxQueuedJobs: config.maxQueuedJobs)
        let isStopping: @Sendable () -> Bool = { [stopping] in stopping.isSet }

        router.use(MetricsMiddleware(metrics: metrics))
        router.use(AccessLogMiddleware(logger: logger))
        router.use(CORSMiddleware(allowedOrigins: config.corsAllowedOrigins, methods: { [weak router] pattern in router?.methods(for: pattern) ?? [] }))
        let keys = KeyCache(store: store)
        router.use(AuthMiddleware(keys: keys, alwaysRequired: config.authAlwaysRequired, defaults: config.keyLimits,
                                  scope: { [weak router] method, pattern in router?.route(method, pattern).map { $0.scope } }))
        let system = SystemController(publicDir: config.publicDir, startedAt: Date(), metrics: metrics, store: store, runner: runner,
                                      connections: { [weak self] in self?.server?.connectionCount ?? 0 },
                                      routes: { [weak self] in self?.router.routes ?? [] }, healthOnly: role != .server)
        router.add(system)
        if case .worker(let health) = role {
            if health {
                server = HTTPServer(configuration: config.httpConfiguration, responder: router, logger: logger,
                                    errorResponse: { APIError.httpLayer($0, $1) },
                                    metrics: { metrics.request(route: "unparsed", method: "-", status: $0, seconds: 0) })
            }
            return
        }
        router.add(JobsController(store: store, runner: runner, submitter: submitter, renderer: renderer, hub: hub, datasets: datasets,
                                  results: results, artifacts: artifacts, housekeeping: housekeeping, isStopping: isStopping))
        let samples = SamplesController(store: store, models: models, datasets: datasets, submitter: submitter, runner: runner, hub: hub,
                                        results: results, maxSamples: config.maxSamples, isStopping: isStopping)
        router.add(samples)
        router.add(LatentsController(samples: samples, models: models, submitter: submitter))
        router.add(ModelsController(store: store, artifacts: artifacts, housekeeping: housekeeping, models: models, datasets: datasets))
        router.add(DatasetsController(store: store, datasets: datasets))
        router.add(KeysController(store: store, keys: keys))
        server = HTTPServer(configuration: config.httpConfiguration, responder: router, logger: logger,
                            errorResponse: { APIError.httpLayer($0, $1) },
                            metrics: { metrics.request(route: "unparsed", method: "-", status: $0, seconds: 0) })
    }

    /// The port the server listens on (after `start`; 0 for a worker without a health listener).
    public var port: Int { server?.port ?? 0 }

    /// The ports of the plain-HTTP listeners beside HTTPS (after `start`).
    public var plainPorts: [Int] { server?.plainPorts ?? [] }

    /// `host-pid-xxxx`: unique among the processes sharing a store.
    static func defaultNodeName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        // At most 30 characters of the host: PostgreSQL keeps 63 bytes of a session's name ("scored " + node).
        let host = String((String(cString: name).split(separator: ".").first.map(String.init) ?? "node").prefix(30))
        return "\(host.isEmpty ? "node" : host)-\(getpid())-\(String(newID("n").suffix(4)))"
    }

    /// The configured store with its artifacts: SQLite and files under the data directory, or PostgreSQL for
    /// both (its sessions named after the node).
    /// Only the service owns the data directory: it clears what interrupted writes left in `tmp/`.
    static func openStore(_ config: ServiceConfig, node: String, ownsDataDir: Bool) throws -> (any RecordStore, Artifacts) {
        let root = URL(fileURLWithPath: config.dataDir, isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let files = try FileArtifacts(root: root)  // also the spool directory for large request bodies
        if ownsDataDir { files.cleanTemporary() }
        guard config.sharedStore else { return (try SQLiteStore(path: config.storePath), Artifacts(backend: files)) }
        // A connection per worker thread, the keeper and the HTTP handlers' share (the listener has its own).
        let connections = (config.workers.values.reduce(0, +)) + 6
        let pg = try PostgresStore(url: config.store, password: try config.storePassword(), applicationName: "scored \(node)",
                                   maxConnections: connections)
        return (pg, pg.artifacts)
    }

    /// The configured store on its own (for `scored keys`).
    public static func openStore(_ config: ServiceConfig) throws -> any RecordStore {
        try openStore(config, node: "cli-\(getpid())", ownsDataDir: false).0
    }

    /// The routes the server answers (method and pattern).
    /// Every route: its method, pattern, and whether it takes an `Idempotency-Key`.
    public var routeTable: [(method: String, pattern: String, idempotent: Bool)] { router.table }

    /// The OpenAPI description this process publishes, generated over `skeleton` (the committed
    /// `public/openapi.json`).
    public func openAPIDocument(skeleton: JSONValue) -> JSONValue { OpenAPIDocument.generate(skeleton: skeleton, routes: router.routes) }

    public func start() throws {
        try runner.start()
        try server?.start()
        let t = Thread { [self] in retentionLoop() }
        t.name = "retention"
        t.start()
        let storeText = config.sharedStore ? PostgresDatabase.redacted(config.store) : config.storePath
        let lanes = Lane.allCases.map { "\($0.rawValue) \(config.workers[$0] ?? 0)" }.joined(separator: ", ")
        logger.info("scored started", metadata: ["role": "\(role == .server ? "api" : "worker")", "node": "\(node)", "store": "\(storeText)",
                                                 "workers": "\(lanes)", "port": "\(port)"])
        if role == .server { logAccessMode() }
    }

    /// Stops accepting, lets responses in flight finish, interrupts running jobs (training saves its state;
    /// both go back to the queue), and returns when done.
    public func stop() {
        guard stopping.set() else { return }
        logger.notice("stopping")
        retentionWake.lock()
        retentionWake.broadcast()
        retentionWake.unlock()
        let serverDone = DispatchSemaphore(value: 0)
        let server = self.server
        DispatchQueue.global().async {
            server?.shutdown(grace: 15)
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
        // SIGHUP: the certificate and key are read again (renewed certificates), without dropping connections.
        signal(SIGHUP, SIG_IGN)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hup.setEventHandler { [self] in reloadCertificate() }
        hup.resume()
        sources.append(hup)
        done.wait()
        stop()
        _ = sources
    }

    /// Reads the TLS certificate and key again; on an error the ones in use stay (and the log says why).
    public func reloadCertificate() {
        guard config.tlsEnabled else {
            logger.notice("SIGHUP: no TLS certificate is configured; nothing to reload")
            return
        }
        do { try server?.reloadTLS() } catch { logger.error("TLS reload failed; the previous certificate stays in use: \(error)") }
    }

    /// Says at start-up whether requests need keys, and why.
    private func logAccessMode() {
        let hasKeys = (try? store.hasKeys()) ?? true
        if config.authAlwaysRequired {
            let why = config.loopbackOnly ? "auth.required is set" : "it listens beyond loopback (\(config.hosts.joined(separator: ", ")))"
            logger.notice("API keys required on every route but the page, /healthz and /openapi.json: \(why)")
            if !hasKeys { logger.warning("no API keys exist yet: every API request will get 401; make one with `scored keys create --name NAME --scope admin`") }
        } else if hasKeys {
            logger.notice("API keys required on every route but the page, /healthz and /openapi.json: keys exist")
        } else {
            logger.notice("open: listening on loopback only with no API keys, so any local process may call the API; `scored keys create` makes keys required")
        }
    }

    /// Runs a retention sweep as if it were `now` (for tests).
    public func sweepForTesting(now: Double) { housekeeping.sweep(retentionHours: config.retentionHours, now: now) }

    private func retentionLoop() {
        while !stopping.isSet {
            housekeeping.sweep(retentionHours: config.retentionHours)
            retentionWake.lock()
            _ = retentionWake.wait(until: Date().addingTimeInterval(60))
            retentionWake.unlock()
        }
    }
}

/// A flag set once, when the service starts stopping.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    /// Sets it; true if it was not set before.
    func set() -> Bool { !flag.exchange(true, ordering: .relaxed) }
}
