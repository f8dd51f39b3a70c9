import ArgumentParser
import Foundation
import Logging
import ScoreEngine
import ScoreService

/// `scored worker`: a worker-only node. It claims jobs from the shared store (PostgreSQL) and runs them, with
/// no HTTP listener but an optional one for `/healthz` and `/metrics`.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run job workers only (no API), against the store of the configuration: any number of them share one PostgreSQL store.")

    @Option(help: "Configuration file (default: $SCORED_CONFIG or config/default.json).") var config: String?
    @Option(help: "The store: a PostgreSQL URL (postgres://user@host:5432/db); default: the configuration's.") var store: String?
    @Option(name: .customLong("data-dir")) var dataDir: String?
    @Option(name: .customLong("log-level")) var logLevel: String?
    @Option(name: .customLong("workers-train")) var workersTrain: Int?
    @Option(name: .customLong("workers-sample")) var workersSample: Int?
    @Option(name: .customLong("node-name"), help: "This node's name among those sharing the store (unique).") var nodeName: String?
    @Option(name: .customLong("health-port"), help: "Serve /healthz and /metrics on this port (0: any free one); none by default.")
    var healthPort: Int?
    @Option(name: .customLong("health-host"), help: "Address of the health listener (default: the configuration's host).") var healthHost: String?

    func run() throws {
        var c = try ServiceConfig.load(file: config)
        func flag(_ key: String, _ v: JSONValue?) throws { if let v { try c.setFlag(key, v) } }
        try flag("store", store.map { .string($0) })
        try flag("data_dir", dataDir.map { .string($0) })
        try flag("log_level", logLevel.map { .string($0) })
        try flag("workers.train", workersTrain.map { .number(Double($0)) })
        try flag("workers.sample", workersSample.map { .number(Double($0)) })
        try flag("node_name", nodeName.map { .string($0) })
        try flag("port", healthPort.map { .number(Double($0)) })
        try flag("host", healthHost.map { .string($0) })
        guard c.sharedStore else {
            // A second process on a SQLite data directory would requeue the server's running jobs as its own.
            throw ValidationError("a worker node shares a PostgreSQL store with the other nodes: set store (SCORED_STORE or --store) to a "
                                  + "postgres:// URL; with the SQLite store, `scored serve` runs the workers itself")
        }
        bootstrapLogging(c.logLevel)
        let service = try Service(config: c, logger: Logger(label: "scored"), role: .worker(health: healthPort != nil))
        try service.start()
        service.runUntilSignal()
    }
}

/// Log lines to standard error at the configured level.
func bootstrapLogging(_ level: String) {
    let l = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = l
        return h
    }
}
