import ArgumentParser
import Foundation
import Logging
import ScoreEngine
import ScoreService

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP service: the API, the page and the job workers (none with --workers-train 0 --workers-sample 0: an API node).")

    @Option(help: "Configuration file (default: $SCORED_CONFIG or config/default.json).") var config: String?
    @Option(name: .customLong("host"), help: "Address to listen on (repeatable; overrides the configuration).") var hosts: [String] = []
    @Option var port: Int?
    @Option(help: "The store: sqlite (the data directory's file, the default) or a PostgreSQL URL shared by several nodes.") var store: String?
    @Option(name: .customLong("data-dir")) var dataDir: String?
    @Option(name: .customLong("public-dir")) var publicDir: String?
    @Option(name: .customLong("log-level")) var logLevel: String?
    @Option(name: .customLong("workers-train")) var workersTrain: Int?
    @Option(name: .customLong("workers-sample")) var workersSample: Int?
    @Option(name: .customLong("max-connections"), help: "Open connections at once (limits.max_connections).") var maxConnections: Int?
    @Option(name: .customLong("tls-certificate"), help: "PEM certificate chain: serve HTTPS (with --tls-private-key; SIGHUP reloads both).")
    var tlsCertificate: String?
    @Option(name: .customLong("tls-private-key"), help: "PEM private key of the certificate.") var tlsPrivateKey: String?
    @Option(name: .customLong("tls-plain-listen"), help: "host:port of a plain-HTTP listener beside HTTPS (repeatable; e.g. 127.0.0.1:8081).")
    var tlsPlainListen: [String] = []

    func run() throws {
        var c = try ServiceConfig.load(file: config)
        func flag(_ key: String, _ v: JSONValue?) throws { if let v { try c.setFlag(key, v) } }
        if !hosts.isEmpty { try c.setFlag("host", .array(hosts.map { .string($0) })) }
        try flag("port", port.map { .number(Double($0)) })
        try flag("store", store.map { .string($0) })
        try flag("data_dir", dataDir.map { .string($0) })
        try flag("public_dir", publicDir.map { .string($0) })
        try flag("log_level", logLevel.map { .string($0) })
        try flag("workers.train", workersTrain.map { .number(Double($0)) })
        try flag("workers.sample", workersSample.map { .number(Double($0)) })
        try flag("limits.max_connections", maxConnections.map { .number(Double($0)) })
        try flag("tls.certificate", tlsCertificate.map { .string($0) })
        try flag("tls.private_key", tlsPrivateKey.map { .string($0) })
        if !tlsPlainListen.isEmpty { try c.setFlag("tls.plain_listen", .array(tlsPlainListen.map { .string($0) })) }
        bootstrapLogging(c.logLevel)
        let service = try Service(config: c, logger: Logger(label: "scored"))
        try service.start()
        service.runUntilSignal()
    }
}
