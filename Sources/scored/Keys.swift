import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

/// `scored keys create|list|revoke`: API keys in the configured store (the data directory's, or PostgreSQL) (the same store a running
/// service reads: a key made here works at once, a key revoked here is refused within a second).
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make, list and revoke API keys (the token is printed once; the store keeps only its SHA-256).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Configuration file (default: $SCORED_CONFIG or config/default.json).") var config: String?
        @Option(name: .customLong("data-dir"), help: "The service's data directory (overrides the configuration).") var dataDir: String?

        func open() throws -> any RecordStore {
            var c = try ServiceConfig.load(file: config)
            if let dataDir { try c.setFlag("data_dir", .string(dataDir)) }
            return try Service.openStore(c)
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a key and print its token (only this once).")
        @OptionGroup var store: StoreOptions
        @Option(help: "A name to tell the key by.") var name: String
        @Option(help: "read, submit or admin.") var scope: String
        @Option(name: .customLong("max-jobs"), help: "Queued and running jobs at once (default: auth.max_jobs).") var maxJobs: Int?
        @Option(name: .customLong("max-upload-bytes"), help: "Bytes of uploads kept (default: auth.max_upload_bytes).") var maxUploadBytes: Int?
        @Option(name: .customLong("max-samples"), help: "Samples of one request (default: auth.max_samples).") var maxSamples: Int?
        @Option(name: .customLong("acts-for"), help: "Another key's id: work on that key's jobs, models and uploads (default: its own).") var actsFor: String?

        func run() throws {
            var request: [String: JSONValue] = ["name": .string(name), "scope": .string(scope)]
            for (k, v) in [("max_jobs", maxJobs), ("max_upload_bytes", maxUploadBytes), ("max_samples", maxSamples)] {
                if let v { request[k] = .number(Double(v)) }
            }
            if let actsFor { request["acts_for"] = .string(actsFor) }
            let (key, token) = try APIKeys.create(in: try store.open(), request: .object(request))
            note("made key \(key.id) (\(key.name), scope \(key.scope.rawValue)); its token, shown only now:")
            print(token)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys (never their tokens).")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let keys = try store.open().keys()
            if json { print(JSONValue.object(["keys": .array(keys.map(\.json))]).serialized); return }
            print("id                \tscope \tcreated                 \trevoked                 \tname")
            for k in keys {
                print("\(k.id)\t\(k.scope.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))\t\(Keys.time(k.createdAt))\t\(k.revokedAt.map(Keys.time) ?? "-".padding(toLength: 24, withPad: " ", startingAt: 0))\t\(k.name)")
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: a running service refuses its token within a second.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id (k_…).") var id: String

        func run() throws {
            let s = try store.open()
            guard try s.key(id) != nil else { throw ValidationError("no key \(id)") }
            if try s.revokeKey(id, at: Date().timeIntervalSince1970) { note("revoked \(id)") } else { note("\(id) was already revoked") }
        }
    }

    static func time(_ t: Double) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: t)).padding(toLength: 24, withPad: " ", startingAt: 0)
    }
}
