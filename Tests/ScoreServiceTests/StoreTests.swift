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

/// The store's contract, on SQLite and on PostgreSQL alike: the queue's order and claims, leases, fencing
/// and rescues, idempotency, counts, retention, keys and owners, and rows it cannot read named in the error
/// instead of crashing.
@Suite struct StoreTests {

    static func job(_ id: String, _ kind: JobKind = .train, at t: Double, key: String? = nil) -> JobRecord {
        JobRecord(id: id, kind: kind, params: ["n": 1], createdAt: t, idempotencyKey: key)
    }

    @Test(arguments: StoreKind.allCases) func queueOrderClaimsAndCounts(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
        #expect(t.schemaVersion == (kind == .sqlite ? 5 : 1))
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

    @Test(arguments: StoreKind.allCases) func idempotencyKeysReturnTheFirstJob(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
        #expect(try s.insert(Self.job("x", at: 1, key: "k")).created)
        let again = try s.insert(Self.job("y", at: 2, key: "k"))
        #expect(!again.created && again.job.id == "x")
        #expect(try s.job(idempotencyKey: "k")?.id == "x" && s.job("y") == nil)
    }

    @Test(arguments: StoreKind.allCases) func modelsAndDatasets(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
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
    @Test(arguments: StoreKind.allCases) func corruptRowsAreNamed(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
        _ = try s.insert(Self.job("good", at: 1))
        try t.execute("INSERT INTO jobs (id, kind, status, params, created_at) VALUES ('bad', 'train', 'exploded', '{}', 2)")
        try t.execute("INSERT INTO jobs (id, kind, status, params, created_at) VALUES ('worse', 'train', 'queued', '{not json', 3)")
        try t.execute("INSERT INTO datasets (id, name, kind, count, shape, created_at) VALUES ('d', 'x', 'sounds', 1, '[2]', 1)")
        #expect(try s.job("good") != nil)
        let bad = #expect(throws: CorruptRecord.self) { try s.job("bad") }
        #expect(bad?.id == "bad" && bad?.table == "jobs" && bad?.reason.contains("exploded") == true)
        let worse = #expect(throws: CorruptRecord.self) { try s.job("worse") }
        #expect(worse?.reason.contains("params") == true)
        #expect(throws: CorruptRecord.self) { try s.dataset("d") }
    }

    @Test(arguments: StoreKind.allCases) func keysAndOwners(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
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
        // A key's upload limit is checked where the record is inserted.
        #expect(throws: UploadLimitReached.self) {
            try s.insert(DatasetRecord(id: "d3", name: "z", kind: .points, count: 1, shape: [2], createdAt: 3, owner: "k1", bytes: 60), uploadLimit: 200)
        }
        try s.insert(DatasetRecord(id: "d4", name: "w", kind: .points, count: 1, shape: [2], createdAt: 4, owner: "k2", bytes: 60), uploadLimit: 200)
        try s.insert(DatasetRecord(id: "d5", name: "v", kind: .points, count: 1, shape: [2], createdAt: 5, owner: "k1", bytes: 50), uploadLimit: 200)
        #expect(try s.uploadBytes(owner: "k1") == 200 && s.dataset("d3") == nil)
        try s.deleteDataset("d4")
        try s.deleteDataset("d5")
        #expect(try s.datasets(owner: "k2").isEmpty && s.datasets(owner: "k1").count == 2)
    }

    /// Claims are leases: a heartbeat renews one while it holds; a lapsed one is rescued by any node (requeued,
    /// or failed after its attempts), and writes under the lost claim no longer land (fencing by attempt).
    @Test(arguments: StoreKind.allCases) func leasesFencingAndRescue(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
        _ = try s.insert(Self.job("a", at: 1))
        let first = try #require(try s.claimNext(kinds: [.train], now: 2, worker: "n1/train/0", leaseSeconds: 60))
        let fence1 = Fence(job: "a", attempt: first.attempts)
        #expect(first.attempts == 1 && first.startedAt == 2)
        #expect(try s.heartbeat(fence1, leaseSeconds: 60) == .held(cancelRequested: false))
        #expect(try s.rescueLapsed(maxAttempts: 5).isEmpty)
        // The lease lapses (renewed into the past): a rescuer requeues the job and another worker claims it.
        #expect(try s.heartbeat(fence1, leaseSeconds: -1) == .held(cancelRequested: false))
        #expect(try s.rescueLapsed(maxAttempts: 5).map(\.id) == ["a"])
        #expect(try s.job("a")?.status == .queued)
        let second = try #require(try s.claimNext(kinds: [.train], now: 3, worker: "n2/train/0", leaseSeconds: 60))
        let fence2 = Fence(job: "a", attempt: 2)
        #expect(second.attempts == 2 && second.startedAt == 2)
        // The first claimer's late writes do not land.
        #expect(try s.heartbeat(fence1, leaseSeconds: 60) == .lost)
        var late = second
        late.status = .succeeded
        late.result = ["model_id": "m_late"]
        #expect(try !s.update(late, fence: fence1))
        #expect(try !s.setProgress(fence1, JobProgress(step: 1, total: 2)))
        #expect(try !s.update(late, fence: fence1, model: ModelRecord(id: "m_late2", jobId: "a", createdAt: 4, info: [:])))
        #expect(try s.model("m_late2") == nil && s.job("a")?.lost == 1)
        try s.setPreview(fence1, number: 9, body: ["late": true])
        #expect(try s.preview("a") == nil)
        // The owner's do.
        #expect(try s.setProgress(fence2, JobProgress(step: 1, total: 2)))
        #expect(try s.job("a")?.progress == JobProgress(step: 1, total: 2))
        try s.setPreview(fence2, number: 1, body: ["x": 1])
        #expect(try s.preview("a")?.number == 1 && s.preview("a")?.body == ["x": 1])
        // A cancellation request reaches the owner with its next heartbeat.
        #expect(try s.requestCancel("a"))
        #expect(try s.heartbeat(fence2, leaseSeconds: 60) == .held(cancelRequested: true))
        var done = second
        done.status = .canceled
        done.finishedAt = 5
        #expect(try s.update(done, fence: fence2))
        #expect(try s.job("a")?.status == .canceled)
        #expect(try !s.requestCancel("a") && s.heartbeat(fence2, leaseSeconds: 60) == .lost)
        // On its last attempt a lapsed lease fails the job, saying why.
        _ = try s.insert(Self.job("b", at: 6))
        #expect(try s.claimNext(kinds: [.train], now: 7, worker: "n1/train/0", leaseSeconds: -1)?.id == "b")
        let failed = try s.rescueLapsed(maxAttempts: 1)
        #expect(failed.map(\.id) == ["b"] && failed.first?.status == .failed)
        let b = try #require(try s.job("b"))
        #expect(b.status == .failed && b.error?.contains("max_attempts") == true && b.finishedAt != nil)
        // The outcome and the model a job made land together.
        _ = try s.insert(Self.job("e", at: 7.5))
        var e = try #require(try s.claimNext(kinds: [.train], now: 7.6, worker: "n1/train/0", leaseSeconds: 60))
        e.status = .succeeded
        e.finishedAt = 7.7
        #expect(try s.update(e, fence: Fence(job: "e", attempt: 1), model: ModelRecord(id: "m_e", jobId: "e", createdAt: 7.7, info: [:])))
        #expect(try s.job("e")?.status == .succeeded && s.model("m_e")?.jobId == "e")
        // A cancel asked of a job whose worker is gone is honoured by the rescue.
        _ = try s.insert(Self.job("f", at: 7.8))
        _ = try s.claimNext(kinds: [.train], now: 7.9, worker: "n1/train/0", leaseSeconds: -1)
        #expect(try s.requestCancel("f"))
        #expect(try s.rescueLapsed(maxAttempts: 5).map(\.status) == [.canceled] && s.job("f")?.status == .canceled)
        // A queued job is canceled at once, and only while queued.
        _ = try s.insert(Self.job("c", at: 8))
        #expect(try s.cancelQueued("c", at: 9) && !s.cancelQueued("c", at: 10) && s.job("c")?.status == .canceled)
        // A process starting on a store it owns alone: whatever was running is requeued.
        _ = try s.insert(Self.job("d", at: 11))
        _ = try s.claimNext(kinds: [.train], now: 12)
        #expect(try s.requeueRunning(maxAttempts: 5).map(\.id) == ["d"] && s.job("d")?.status == .queued)
    }

    /// A job pinned to a node is claimed by that node's workers only; a lane's cap counts its queued jobs, and
    /// an idempotency key already used returns its job even at the cap.
    @Test(arguments: StoreKind.allCases) func pinnedJobsAndQueueCaps(_ kind: StoreKind) throws {
        let t = try TestStore.make(kind), s = t.store
        defer { t.remove() }
        var pinned = Self.job("p", .sample, at: 1)
        pinned.node = "n1"
        _ = try s.insert(pinned)
        _ = try s.insert(Self.job("q", .sample, at: 2))
        #expect(try s.job("p")?.node == "n1")
        #expect(try s.claimNext(kinds: [.sample], now: 3, worker: "n2/sample/0", leaseSeconds: 60)?.id == "q")
        #expect(try s.claimNext(kinds: [.sample], now: 3, worker: "n2/sample/0", leaseSeconds: 60) == nil)
        #expect(try s.claimNext(kinds: [.sample], now: 3, worker: "n1/sample/0", leaseSeconds: 60)?.id == "p")
        #expect(try s.insert(Self.job("r", .likelihood, at: 4, key: "k"), queueCap: 1).created)
        #expect(throws: QueueFull.self) { try s.insert(Self.job("s", .sample, at: 5), queueCap: 1) }
        #expect(try s.insert(Self.job("t", .train, at: 5), queueCap: 1).created)
        let again = try s.insert(Self.job("u", .likelihood, at: 6, key: "k"), queueCap: 1)
        #expect(!again.created && again.job.id == "r")
        // A key's limit of queued and running jobs.
        for id in ["o1", "o2"] {
            var j = Self.job(id, .train, at: 7)
            j.owner = "k1"
            #expect(try s.insert(j, queueCap: nil, ownerLimit: 2).created)
        }
        var third = Self.job("o3", .train, at: 8)
        third.owner = "k1"
        #expect(throws: OwnerLimitReached.self) { try s.insert(third, queueCap: nil, ownerLimit: 2) }
        third.owner = "k2"
        #expect(try s.insert(third, queueCap: nil, ownerLimit: 2).created)
    }

    /// PostgreSQL's artifacts: kept in chunks and read back whole, replaced whole, and written under a claim only
    /// while it holds.
    @Test func postgresArtifacts() throws {
        let t = try TestStore.make(.postgres)
        defer { t.remove() }
        let store = try #require(t.store as? PostgresStore)
        let a = store.artifacts
        var g = SystemRandomNumberGenerator()
        let big = Data((0..<(2 << 20) + 12345).map { _ in UInt8.random(in: 0...255, using: &g) })
        try a.write(big, to: "results/x.bin")
        #expect(try a.read("results/x.bin") == big)
        try t.execute("SELECT 1")
        try a.write(Data([1, 2, 3]), to: "results/x.bin")
        #expect(try a.read("results/x.bin") == Data([1, 2, 3]))
        try a.write(Data(), to: "results/empty.bin")
        #expect(try a.read("results/empty.bin") == Data() && a.read("results/none.bin") == nil)
        _ = try store.insert(Self.job("j", at: 1))
        _ = try store.claimNext(kinds: [.train], now: 2, worker: "n/train/0", leaseSeconds: 60)
        try a.write(Data([7]), to: "states/j.safetensors", fence: Fence(job: "j", attempt: 1))
        #expect(throws: LeaseLost.self) { try a.write(Data([8]), to: "states/j.safetensors", fence: Fence(job: "j", attempt: 2)) }
        #expect(try a.read("states/j.safetensors") == Data([7]))
        a.remove("results/x.bin")
        #expect(try a.read("results/x.bin") == nil)
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
