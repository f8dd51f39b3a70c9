import Foundation
import ScoreEngine
import ScoreService
import Synchronization
import Testing

/// Several nodes on one PostgreSQL store, each process with its own data directory as if on its own host: an
/// API node without workers (`scored serve --workers-train 0 --workers-sample 0`) and two worker nodes
/// (`scored worker`), each worker connecting as a database role of its own (so that a test can cut one off).
final class Cluster {
    let database: (name: String, url: String)
    let roles: [String]
    let api: ServerProcess
    var workers: [ServerProcess]
    let dirs: [URL]
    static let leaseSeconds = 2.0

    init(workerCount: Int = 2, extra: [String: String] = [:]) throws {
        database = try TestPostgres.createDatabase()
        let suffix = String(database.name.suffix(8))
        roles = (1...workerCount).map { "w\($0)_\(suffix)" }
        for r in roles { try TestPostgres.execute("CREATE ROLE \(r) LOGIN SUPERUSER") }
        dirs = (0...workerCount).map { _ in FileManager.default.temporaryDirectory.appendingPathComponent("scored-node-\(UUID().uuidString)") }
        var env = ["SCORED_STORE": database.url, "SCORED_LEASE_SECONDS": "\(Cluster.leaseSeconds)", "SCORED_MAX_QUEUED_JOBS": "1000",
                   "SCORED_THREADS_TRAIN": "1", "SCORED_THREADS_SAMPLE": "1"]
        for (k, v) in extra { env[k] = v }
        var apiEnv = env
        apiEnv["SCORED_NODE_NAME"] = "api"
        api = try ServerProcess(dataDir: dirs[0], arguments: ["--workers-train", "0", "--workers-sample", "0"], environment: apiEnv)
        workers = []
        for (i, r) in roles.enumerated() {
            var e = env
            e["SCORED_NODE_NAME"] = "w\(i + 1)"
            e["SCORED_STORE"] = try TestPostgres.url(database: database.name, user: r)
            e["SCORED_WORKERS_SAMPLE"] = "2"
            workers.append(try ServerProcess(dataDir: dirs[i + 1], worker: true, environment: e))
        }
    }

    var base: String { api.base }

    /// Rows of the shared database.
    func sql(_ text: String) throws -> [[String: String]] { try TestPostgres.execute(text, database: database.name) }

    /// The worker process whose node runs a job (from its lease), waiting until one does.
    func owner(of id: String, timeout: Double = 30) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let w = try sql("SELECT worker FROM jobs WHERE id = '\(id)' AND status = 'running'").first?["worker"],
               let n = Int(w.dropFirst().prefix { $0.isNumber }) {
                return n - 1
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw CocoaError(.fileReadUnknown, userInfo: ["job": id, "status": "never running"])
    }

    func stop() {
        _ = api.terminate()
        for w in workers where w.process.isRunning { _ = w.terminate() }
        for r in roles { _ = try? TestPostgres.execute("ALTER ROLE \(r) LOGIN") }
        TestPostgres.dropDatabase(database.name)
        for r in roles { _ = try? TestPostgres.execute("DROP ROLE IF EXISTS \(r)") }
        for d in dirs { try? FileManager.default.removeItem(at: d) }
    }
}

/// Reads a server-sent event stream with curl into memory until it ends.
final class EventCapture: @unchecked Sendable {
    let process = Process()
    private let out = Pipe()
    private let text = LockedText()
    private let done = DispatchSemaphore(value: 0)

    init(_ url: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sN", "--max-time", "180", url]
        process.standardOutput = out
        try process.run()
        let handle = out.fileHandleForReading
        Thread { [text, done] in
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                text.append(String(decoding: d, as: UTF8.self))
            }
            done.signal()
        }.start()
    }

    /// The stream's text once it ended (or the timeout passed).
    func wait(timeout: Double) -> String {
        _ = done.wait(timeout: .now() + timeout)
        if process.isRunning { process.terminate() }
        return text.value
    }

    /// The `event: job` documents so far.
    static func jobs(_ text: String) -> [JSONValue] {
        text.components(separatedBy: "\n\n").compactMap { block -> JSONValue? in
            guard block.hasPrefix("event: job\n"), let line = block.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }) else { return nil }
            return try? JSONValue(parsing: String(line.dropFirst(6)))
        }
    }
}

@Suite(.serialized) struct ClusterTests {
    static let trainBody = #"{"steps": 6000, "batch_size": 256, "seed": 11, "model": {"hidden": [64, 64]}}"#

    /// Ids of the jobs a worker's log says it started, in order.
    static func started(_ log: String) -> [String] {
        log.split(separator: "\n").filter { $0.contains("job started") }.compactMap { line in
            line.firstMatch(of: /job=(j_[a-z0-9]+)/).map { String($0.output.1) }
        }
    }

    /// 200 short sampling jobs submitted at once through the API node: every one succeeds, run exactly once
    /// (one attempt, started by one worker), with its result served by the API node from the store.
    @Test func manyJobsRunExactlyOnce() throws {
        let c = try Cluster()
        defer { c.stop() }
        let trained = waitForJob(c.base, try #require(http("POST", "\(c.base)/train", body: #"{"steps": 100, "model": {"hidden": [16]}}"#).json["id"]?.string))
        let model = try #require(trained["result"]?["model_id"]?.string)
        let ids = Mutex<[String]>([])
        let base = c.base
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            let r = http("GET", "\(base)/samples?model=\(model)&n=4&seed=\(i)&wait=false")
            if r.status == 202, let id = r.json["id"]?.string { ids.withLock { $0.append(id) } }
        }
        let submitted = ids.withLock { $0 }
        #expect(submitted.count == 200 && Set(submitted).count == 200)
        for id in submitted {
            let j = waitForJob(c.base, id, timeout: 120)
            #expect(j["status"] == "succeeded" && j["attempts"] == 1, "\(id): \(j)")
        }
        let byWorker = c.workers.map { Self.started($0.logText).filter { submitted.contains($0) } }
        let all = byWorker.flatMap { $0 }
        #expect(all.count == 200 && Set(all) == Set(submitted), "each job started once across the workers")
        #expect(byWorker.allSatisfy { !$0.isEmpty }, "both workers claimed jobs: \(byWorker.map(\.count))")
        let rows = try c.sql("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'sample' AND status = 'succeeded' AND attempts = 1")
        #expect(rows.first?["n"] == "200")
        for id in submitted.prefix(5) {
            #expect(http("GET", "\(c.base)/jobs/\(id)/result").json["points"]?.array?.count == 4)
        }
        // The queue-depth gauge comes from the database: every node sees the same (empty) queues.
        let metrics = http("GET", "\(c.workers[0].base)/metrics").text
        #expect(metrics.contains("scored_queue_depth{lane=\"sample\"} 0"))
    }

    /// A training job's worker is killed (SIGKILL): once its lease lapses another worker resumes the job from its
    /// last saved state, and the model is bit-identical to an uninterrupted run's; the API node's event stream
    /// shows the whole job across the hand-over.
    @Test func killedWorkerHandsOver() throws {
        let c = try Cluster()
        defer { c.stop() }
        let id = try #require(http("POST", "\(c.base)/train", body: Self.trainBody).json["id"]?.string)
        let events = try EventCapture("\(c.base)/jobs/\(id)/events")
        let victim = try c.owner(of: id)
        // Past a saved state, then the worker's host "dies".
        let deadline = Date().addingTimeInterval(60)
        while try c.sql("SELECT 1 AS ok FROM artifacts WHERE key = 'states/\(id).safetensors'").isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(http("GET", "\(c.base)/jobs/\(id)").json["status"] == "running")
        c.workers[victim].kill9()
        let finished = waitForJob(c.base, id, timeout: 180)
        #expect(finished["status"] == "succeeded" && finished["attempts"] == 2 && finished["result"]?["steps"] == 6000, "\(finished)")
        let survivor = c.workers[1 - victim]
        #expect(survivor.logText.contains("resuming training"))
        #expect(c.api.logText.contains("job requeued: its lease lapsed") || survivor.logText.contains("job requeued: its lease lapsed"))
        // The stream: running on the first attempt, then on the second, then the end.
        let text = events.wait(timeout: 10)
        let docs = EventCapture.jobs(text)
        let attemptsRunning = docs.filter { $0["status"] == "running" }.compactMap { $0["attempts"]?.number }
        #expect(attemptsRunning.contains(1) && attemptsRunning.contains(2), "\(attemptsRunning)")
        #expect(docs.last?["status"] == "succeeded" && text.contains("event: end"))
        // The same recipe, uninterrupted, on the surviving worker.
        let reference = waitForJob(c.base, try #require(http("POST", "\(c.base)/train", body: Self.trainBody).json["id"]?.string), timeout: 180)
        #expect(reference["attempts"] == 1)
        let a = try Safetensors.read(http("GET", "\(c.base)/models/\(try #require(finished["result"]?["model_id"]?.string))/checkpoint").body)
        let b = try Safetensors.read(http("GET", "\(c.base)/models/\(try #require(reference["result"]?["model_id"]?.string))/checkpoint").body)
        #expect(a.order == b.order && !a.order.isEmpty)
        #expect(a.order.allSatisfy { a.tensors[$0]?.scalars == b.tensors[$0]?.scalars }, "the resumed model equals the uninterrupted one bit for bit")
    }

    /// A sampling job's previews and progress, made on a worker, reach the event stream of the API node.
    @Test func previewsCrossNodes() throws {
        let c = try Cluster()
        defer { c.stop() }
        let trained = waitForJob(c.base, try #require(http("POST", "\(c.base)/train", body: #"{"steps": 100, "model": {"hidden": [16]}}"#).json["id"]?.string))
        let model = try #require(trained["result"]?["model_id"]?.string)
        let id = try #require(http("GET", "\(c.base)/samples?model=\(model)&n=3000&sampler=pc&steps=600&preview_every=25&wait=false").json["id"]?.string)
        let text = try EventCapture("\(c.base)/jobs/\(id)/events").wait(timeout: 120)
        let previews = text.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: preview\n") }
        #expect(!previews.isEmpty, "previews on the API node's stream")
        let fractions = EventCapture.jobs(text).compactMap { $0["progress"]?["fraction"]?.number }
        #expect(fractions.contains { $0 > 0 && $0 < 1 }, "progress while it ran: \(fractions)")
        #expect(EventCapture.jobs(text).last?["status"] == "succeeded")
    }

    /// A cancel sent to the API node stops the job on the worker running it, promptly (through NOTIFY).
    @Test func cancelReachesTheWorker() throws {
        let c = try Cluster()
        defer { c.stop() }
        let id = try #require(http("POST", "\(c.base)/train", body: #"{"steps": 1000000}"#).json["id"]?.string)
        let owner = try c.owner(of: id)
        Thread.sleep(forTimeInterval: 0.5)
        let sent = Date()
        #expect(http("POST", "\(c.base)/jobs/\(id)/cancel").status == 200)
        let j = waitForJob(c.base, id, timeout: 30)
        let seconds = Date().timeIntervalSince(sent)
        #expect(j["status"] == "canceled")
        // Well under a lease: the request travelled by NOTIFY, not by the next heartbeat.
        #expect(seconds < Cluster.leaseSeconds / 3 + 0.5, "canceled after \(seconds) s")
        #expect(c.workers[owner].logText.contains("job canceled"))
    }

    /// A worker cut off from the database (its sessions terminated, its role unable to log in again) stops its
    /// job within a lease; another worker takes the job over and finishes it; when the first reconnects, it
    /// does not overwrite the new owner's result.
    @Test func partitionedWorkerIsFenced() throws {
        let c = try Cluster()
        defer { c.stop() }
        // Long enough to outlast a lease after the cut.
        let id = try #require(http("POST", "\(c.base)/train", body: #"{"steps": 15000, "batch_size": 256, "seed": 3, "model": {"hidden": [64, 64]}}"#)
            .json["id"]?.string)
        let cut = try c.owner(of: id)
        let role = c.roles[cut]
        let deadline = Date().addingTimeInterval(60)
        while try c.sql("SELECT 1 AS ok FROM artifacts WHERE key = 'states/\(id).safetensors'").isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        try TestPostgres.execute("ALTER ROLE \(role) NOLOGIN")
        try TestPostgres.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
        let finished = waitForJob(c.base, id, timeout: 180)
        #expect(finished["status"] == "succeeded" && finished["attempts"] == 2, "\(finished)")
        let model = try #require(finished["result"]?["model_id"]?.string)
        #expect(c.workers[cut].logText.contains("lease lost"))
        // Reconnected, the cut-off worker finds its claim gone: nothing it does lands.
        try TestPostgres.execute("ALTER ROLE \(role) LOGIN")
        let reconnect = Date().addingTimeInterval(20)
        while !c.workers[cut].logText.contains("event listener reconnected") && Date() < reconnect { Thread.sleep(forTimeInterval: 0.1) }
        #expect(c.workers[cut].logText.contains("event listener reconnected"))
        Thread.sleep(forTimeInterval: Cluster.leaseSeconds)
        let after = http("GET", "\(c.base)/jobs/\(id)").json
        #expect(after["status"] == "succeeded" && after["attempts"] == 2 && after["result"]?["model_id"]?.string == model)
        #expect(try c.sql("SELECT COUNT(*) AS n FROM models WHERE job_id = '\(id)'").first?["n"] == "1")
        #expect(Self.started(c.workers[cut].logText).filter { $0 == id }.count == 1)
    }

    /// A store that cannot be reached, or a password file that cannot be read, stops the start with a message
    /// that names it, and never prints the URL's password.
    @Test func unreachableStoreStopsTheStart() throws {
        func start(_ env: [String: String]) throws -> (status: Int32, stderr: String) {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scored-bad-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            var e = env
            e["SCORED_CONFIG"] = Harness.repository.appendingPathComponent("config/default.json").path
            return try ServerProcess.runToEnd(["worker", "--data-dir", dir.path], environment: e)
        }
        let port = try #require(URLComponents(string: try TestPostgres.url)?.port)
        let wrongDB = try start(["SCORED_STORE": "postgres://scored:hunter2@127.0.0.1:\(port)/no_such_database"])
        #expect(wrongDB.status != 0 && wrongDB.stderr.contains("cannot connect to PostgreSQL") && wrongDB.stderr.contains("no_such_database"))
        #expect(!wrongDB.stderr.contains("hunter2") && wrongDB.stderr.contains("***"))
        let noFile = try start(["SCORED_STORE": try TestPostgres.url, "SCORED_STORE_PASSWORD_FILE": "/nonexistent/pg_password"])
        #expect(noFile.status != 0 && noFile.stderr.contains("store_password_file: cannot read /nonexistent/pg_password"))
        let notAURL = try start(["SCORED_STORE": "mysql://x"])
        #expect(notAURL.status != 0 && notAURL.stderr.contains("must be sqlite or a PostgreSQL URL"))
    }
}
