import ArgumentParser
import Foundation
import Logging
import ScoreEngine
import ScoreService

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP service: the API, the page and the job workers, with the embedded store.")

    @Option(help: "Configuration file (default: $SCORED_CONFIG or config/default.json).") var config: String?
    @Option(name: .customLong("host"), help: "Address to listen on (repeatable; overrides the configuration).") var hosts: [String] = []
    @Option var port: Int?
    @Option(name: .customLong("data-dir")) var dataDir: String?
    @Option(name: .customLong("public-dir")) var publicDir: String?
    @Option(name: .customLong("log-level")) var logLevel: String?
    @Option(name: .customLong("workers-train")) var workersTrain: Int?
    @Option(name: .customLong("workers-sample")) var workersSample: Int?

    func run() throws {
        var c = try ServiceConfig.load(file: config)
        func flag(_ key: String, _ v: JSONValue?) throws { if let v { try c.setFlag(key, v) } }
        if !hosts.isEmpty { try c.setFlag("host", .array(hosts.map { .string($0) })) }
        try flag("port", port.map { .number(Double($0)) })
        try flag("data_dir", dataDir.map { .string($0) })
        try flag("public_dir", publicDir.map { .string($0) })
        try flag("log_level", logLevel.map { .string($0) })
        try flag("workers.train", workersTrain.map { .number(Double($0)) })
        try flag("workers.sample", workersSample.map { .number(Double($0)) })
        let level = Logger.Level(rawValue: c.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let service = try Service(config: c, logger: Logger(label: "scored"))
        try service.start()
        service.runUntilSignal()
    }
}
