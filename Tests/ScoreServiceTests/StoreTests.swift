import CSQLite
import Foundation
import ScoreEngine
import ScoreService
import Testing

/// Statements run on a store's file from outside it (to make rows a store must refuse).
enum SQLiteFile {
    static func execute(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw CocoaError(.fileReadUnknown) }
        defer { sqlite3_close(db) }
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw CocoaError(.fileWriteUnknown, userInfo: ["sqlite": String(cString: sqlite3_errmsg(db))])
        }
    }
}

/// The SQLite store on its own: the queue's order and claims, idempotency, counts, retention, and rows it
/// cannot read named in the error instead of crashing.
@Suite struct StoreTests {
    static func store() throws -> (SQLiteStore, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString).db").path
        return (try SQLiteStore(path: path), path)
    }

    static func job(_ id: String, _ kind: JobKind = .train, at t: Double, key: String? = nil) -> JobRecord {
        JobRecord(id: id, kind: kind, params: ["n": 1], createdAt: t, idempotencyKey: key)
    }

    @Test func queueOrderClaimsAndCounts() throws {
        let (s, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try s.schemaVersion == 4)
        for (id, kind, t) in [("b", JobKind.train, 2.0), ("a", .train, 1.0), ("c", .sample, 0.5)] {
            #expect(try s.insert(Self.job(id, kind, at: t)).created)
        }
        // The oldest of the asked kinds, marked running with its attempt counted.
        let first = try #require(try s.claimNext(kinds: [.train], now: 10))
        #expect(first.id == "a" && first.status == .running && first.attempts == 1 && first.startedAt == 10)
        #expect(try s.claimNext(kinds: [.train], now: 11)?.id == "b")
        #expect(try s.claimNext(kinds: [.train], now: 12) == nil)
        #expect(try s.count(status: .queued, kinds: [.sample, .likelihood]) == 1)
        #expect(try s.countsByStatus() == [.running: 2, .queued: 1])
        // A restart puts running jobs back in the queue.
        #expect(Set(try s.requeueRunning().map(\.id)) == ["a", "b"])
        #expect(try s.claimNext(kinds: [.train], now: 13)?.attempts == 2)
        // Updates, retention, deletion.
        var a = try #require(try s.job("a"))
        a.status = .succeeded
        a.finishedAt = 100
        a.progress = JobProgress(step: 5, total: 5, loss: 0.5)
        a.result = ["model_id": "m_x"]
        try s.update(a)
        #expect(try s.job("a") == a)
        #expect(try s.expiredJobs(before: 101).map(\.id) == ["a"] && s.expiredJobs(before: 99).isEmpty)
        try s.deleteJob("a")
        #expect(try s.job("a") == nil)
        #expect(try s.jobs(status: .queued, kind: nil, limit: 10).map(\.id) == ["b", "c"])
    }

    @Test func idempotencyKeysReturnTheFirstJob() throws {
        let (s, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try s.insert(Self.job("x", at: 1, key: "k")).created)
        let again = try s.insert(Self.job("y", at: 2, key: "k"))
        #expect(!again.created && again.job.id == "x")
        #expect(try s.job(idempotencyKey: "k")?.id == "x" && s.job("y") == nil)
    }

    @Test func modelsAndDatasets() throws {
        let (s, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try s.insert(ModelRecord(id: "m1", jobId: "j1", createdAt: 1, info: ["dataset": "moons"]))
        try s.insert(ModelRecord(id: "m2", jobId: "j2", createdAt: 2, info: [:]))
        #expect(try s.models(limit: 10).map(\.id) == ["m2", "m1"] && s.model("m1")?.info["dataset"] == "moons")
        #expect(try s.expiredModels(before: 1.5).map(\.id) == ["m1"])
        try s.insert(DatasetRecord(id: "d1", name: "tri", kind: .points, count: 3, shape: [2], createdAt: 1))
        #expect(try s.dataset("d1")?.shape == [2] && s.datasets().count == 1)
        try s.deleteDataset("d1")
        try s.deleteModel("m1")
        #expect(try s.dataset("d1") == nil && s.model("m1") == nil)
    }

    /// A row the store cannot read back is an error that names it, not a crash or a silent default.
    @Test func corruptRowsAreNamed() throws {
        let (s, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try s.insert(Self.job("good", at: 1))
        try SQLiteFile.execute(path, "INSERT INTO jobs (id, kind, status, params, created_at) VALUES ('bad', 'train', 'exploded', '{}', 2)")
        try SQLiteFile.execute(path, "INSERT INTO jobs (id, kind, status, params, created_at) VALUES ('worse', 'train', 'queued', '{not json', 3)")
        try SQLiteFile.execute(path, "INSERT INTO datasets (id, name, kind, count, shape, created_at) VALUES ('d', 'x', 'sounds', 1, '[2]', 1)")
        #expect(try s.job("good") != nil)
        let bad = #expect(throws: CorruptRecord.self) { try s.job("bad") }
        #expect(bad?.id == "bad" && bad?.table == "jobs" && bad?.reason.contains("exploded") == true)
        let worse = #expect(throws: CorruptRecord.self) { try s.job("worse") }
        #expect(worse?.reason.contains("params") == true)
        #expect(throws: CorruptRecord.self) { try s.dataset("d") }
    }

    @Test func keysAndOwners() throws {
        let (s, path) = try Self.store()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try !s.hasKeys())
        let (key, token) = try APIKeys.create(in: s, request: ["name": "ci", "scope": "submit", "max_jobs": 3], now: 5)
        #expect(try s.hasKeys())
        // The record holds SHA-256 of the token's secret (checked against an independent digest), nothing else of it.
        let secret = String(token.split(separator: "_").last!)
        let stored = try #require(try s.key(key.id))
        #expect(stored.secretHash == APIToken.sha256(Array(secret.utf8)) && stored.limits.maxJobs == 3 && stored.scope == .submit)
        #expect(APIToken.sha256(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined()
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try s.revokeKey(key.id, at: 9) && !s.revokeKey(key.id, at: 10) && s.key(key.id)?.revokedAt == 9)
        // Owners filter listings and count against limits.
        for (id, owner, status) in [("a", "k1", JobStatus.queued), ("b", "k1", .succeeded), ("c", "k2", .running), ("d", nil, .queued)] {
            var j = JobRecord(id: id, kind: .train, params: [:], createdAt: 1, owner: owner)
            j.status = status
            _ = try s.insert(j)
            try s.update(j)
        }
        #expect(try s.jobs(status: nil, kind: nil, limit: 10, owner: "k1").map(\.id).sorted() == ["a", "b"])
        #expect(try s.jobs(status: nil, kind: nil, limit: 10, owner: .some(nil)).map(\.id) == ["d"])
        #expect(try s.jobs(status: nil, kind: nil, limit: 10).count == 4)
        #expect(try s.activeJobs(owner: "k1") == 1 && s.activeJobs(owner: "k2") == 1)
        try s.insert(DatasetRecord(id: "d1", name: "x", kind: .points, count: 1, shape: [2], createdAt: 1, owner: "k1", bytes: 100))
        try s.insert(DatasetRecord(id: "d2", name: "y", kind: .points, count: 1, shape: [2], createdAt: 2, owner: "k1", bytes: 50))
        #expect(try s.uploadBytes(owner: "k1") == 150 && s.uploadBytes(owner: "k2") == 0)
        #expect(try s.datasets(owner: "k2").isEmpty && s.datasets(owner: "k1").count == 2)
    }
}

/// Request fields from query strings and JSON bodies, resolved against declarations.
@Suite struct FieldsTests {
    static let declared = [
        Parameter("n", .integer(1...10), default: .value(5), help: "n"),
        Parameter("name", .text(maxLength: 4), default: .none(""), help: "name"),
    ]

    @Test func queryAndJSON() throws {
        var q = try Fields(query: [("n", "3"), ("extra", "1")])
        #expect(try q.take(Self.declared).values == ["n": 3])
        #expect(throws: InvalidParameter("extra", "unknown field")) { try q.finish() }
        #expect(throws: InvalidParameter("n", "is given more than once")) { try Fields(query: [("n", "1"), ("n", "2")]) }
        #expect(throws: InvalidParameter("query", "is not valid percent-encoded UTF-8")) { try Fields(query: nil) }
        var j = try Fields(json: ["n": 2, "name": .null])
        #expect(try j.take(Self.declared).values == ["n": 2])
        try j.finish()
        var bad = try Fields(json: ["n": "2"])
        #expect(throws: InvalidParameter("n", "must be an integer between 1 and 10, got a string")) { try bad.take(Self.declared) }
        #expect(throws: InvalidParameter("body", "must be a JSON object, got an array")) { try Fields(json: [1]) }
        var long = try Fields(query: [("name", "abcde")])
        #expect(throws: InvalidParameter("name", "must be 1 to 4 characters")) { try long.take(Self.declared) }
    }
}

/// The configuration: the file, then `SCORED_…` variables, then flags; every key checked, unknown ones refused.
@Suite struct ConfigTests {
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func layers() throws {
        let path = try Self.file(#"{"port": 9000, "workers": {"train": 2}, "limits": {"max_samples": 500}, "host": ["::1", "127.0.0.1"]}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var c = try ServiceConfig.load(file: path, environment: ["SCORED_PORT": "9100", "SCORED_THREADS_SAMPLE": "3", "SCORED_LOG_LEVEL": "debug"])
        #expect(c.port == 9100 && c.workers[.train] == 2 && c.threads[.sample] == 3 && c.maxSamples == 500)
        #expect(c.hosts == ["::1", "127.0.0.1"] && c.logLevel == "debug")
        try c.setFlag("port", 9200)
        #expect(c.port == 9200)
        // The shipped file loads as it is.
        let shipped = try ServiceConfig.load(file: Harness.repository.appendingPathComponent("config/default.json").path, environment: [:])
        #expect(shipped.port == 8080 && shipped.maxConnections == 16384 && !shipped.tlsEnabled)
        // TLS: variables and flags like the rest; certificate and key together; plain listeners only beside HTTPS.
        var t = try ServiceConfig.load(file: nil, environment: ["SCORED_TLS_CERTIFICATE": "/c.pem", "SCORED_TLS_PRIVATE_KEY": "/k.pem",
                                                                "SCORED_TLS_PLAIN_LISTEN": "127.0.0.1:8081,[::1]:0"])
        try t.validate()
        #expect(t.tlsEnabled && t.tlsPlainListen == [.init(host: "127.0.0.1", port: 8081), .init(host: "::1", port: 0)] && t.loopbackOnly)
        try t.setFlag("tls.plain_listen", ["0.0.0.0:8081"])
        #expect(!t.loopbackOnly, "a plain listener beyond loopback makes keys required")
        try t.setFlag("tls.private_key", .null)
        #expect(throws: ServiceConfig.Invalid.self) { try t.validate() }
        var plain = ServiceConfig()
        try plain.setFlag("tls.plain_listen", ["127.0.0.1:8081"])
        #expect(throws: ServiceConfig.Invalid.self) { try plain.validate() }
        for bad in ["8081", "host:", "[::1]8081", "a:b:c", "h:70000"] {
            #expect(throws: ServiceConfig.Invalid.self, "\(bad)") { try plain.setFlag("tls.plain_listen", .array([.string(bad)])) }
        }
    }

    @Test func refusals() throws {
        for (text, words) in [(#"{"prot": 1}"#, "unknown setting prot"), (#"{"port": 70000}"#, "port must be an integer"),
                              (#"{"log_level": "loud"}"#, "log_level must be"), (#"[1]"#, "expected a JSON object"),
                              (#"{"port": 80,"#, "invalid JSON")] {
            let path = try Self.file(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let e = #expect(throws: ServiceConfig.Invalid.self) { try ServiceConfig.load(file: path, environment: [:]) }
            #expect(e?.description.contains(words) == true, "\(text): \(e?.description ?? "")")
        }
        #expect(throws: ServiceConfig.Invalid.self) { try ServiceConfig.load(file: nil, environment: ["SCORED_WORKERS_SAMPLE": "0", "SCORED_CONFIG": "/nonexistent"]) }
        #expect(throws: ServiceConfig.Invalid.self) { try ServiceConfig.load(file: "/nonexistent/config.json", environment: [:]) }
    }
}
