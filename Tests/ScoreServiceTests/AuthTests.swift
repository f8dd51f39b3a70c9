import Foundation
import Logging
import ScoreEngine
import ScoreService
import Synchronization
import Testing

/// API keys over real sockets: the open loopback mode, 401/403 per scope, per-key isolation (404 for another
/// key's jobs, models and uploads; built-ins public), per-key limits (429 with Retry-After), revocation,
/// listening beyond loopback, preflights, and that tokens never reach the logs, the store or the answers.
@Suite(.serialized) struct AuthTests {
    /// Makes a key in the service's store, as `scored keys create` does.
    static func key(_ h: Harness, _ scope: String, _ extra: [String: JSONValue] = [:]) throws -> (id: String, token: String) {
        var request: [String: JSONValue] = ["name": .string("test-\(scope)"), "scope": .string(scope)]
        for (k, v) in extra { request[k] = v }
        let (k, token) = try APIKeys.create(in: try SQLiteStore(path: h.service.config.storePath), request: .object(request))
        return (k.id, token)
    }

    static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

    @Test func openOnLoopbackUntilAKeyExists() throws {
        let h = try Harness()
        #expect(http("GET", "\(h.base)/jobs").status == 200)
        #expect(http("POST", "\(h.base)/train", body: #"{"steps": 1, "model": {"hidden": [8]}}"#).status == 202)
        // Open, but not for key management (the first key comes from `scored keys create`), nor for requests
        // addressed to another name (a page whose name was rebound to 127.0.0.1).
        #expect(http("POST", "\(h.base)/keys", body: #"{"name": "x", "scope": "admin"}"#).status == 401)
        #expect(http("GET", "\(h.base)/jobs", headers: ["Host": "evil.example"]).status == 401)
        #expect(http("GET", "\(h.base)/jobs", headers: ["Host": "localhost:8080"]).status == 200)
        // A key made by another process (as `scored keys create` does) closes the service within a second.
        _ = try Self.key(h, "read")
        Thread.sleep(forTimeInterval: 1.1)
        let r = http("GET", "\(h.base)/jobs")
        #expect(r.status == 401 && r.header("WWW-Authenticate") == "Bearer realm=\"scored\"")
        #expect(r.json["error"]?["code"] == "unauthorized")
    }

    @Test func scopes() throws {
        let h = try Harness()
        let base = h.base
        let read = try Self.key(h, "read"), submit = try Self.key(h, "submit"), admin = try Self.key(h, "admin")
        // The page, health and the description need no key.
        for path in ["/", "/healthz", "/openapi.json", "/assets/app.js"] { #expect(http("GET", base + path).status == 200, "\(path)") }
        // Missing, malformed, unknown and tampered tokens.
        let bad = [["Authorization": "Basic dXNlcjpwYXNz"], Self.bearer("nonsense"), Self.bearer(submit.token + "0"),
                   Self.bearer(String(submit.token.dropLast()) + (submit.token.last == "0" ? "1" : "0")),
                   Self.bearer(read.token.replacingOccurrences(of: read.id, with: submit.id))]
        for headers in bad {
            let r = http("GET", "\(base)/jobs", headers: headers)
            #expect(r.status == 401 && r.header("WWW-Authenticate")?.hasPrefix("Bearer realm=\"scored\", error=") == true, "\(headers)")
        }
        // read: GETs only.
        #expect(http("GET", "\(base)/jobs", headers: Self.bearer(read.token)).status == 200)
        #expect(http("GET", "\(base)/samplers", headers: Self.bearer(read.token)).status == 200)
        let denied = http("POST", "\(base)/train", body: #"{"steps": 1}"#, headers: Self.bearer(read.token))
        #expect(denied.status == 403 && denied.header("WWW-Authenticate")?.contains("insufficient_scope") == true)
        #expect(http("GET", "\(base)/samples?target=donut&n=4", headers: Self.bearer(read.token)).status == 403)
        // submit: work, not keys.
        #expect(http("GET", "\(base)/samples?target=donut&n=4", headers: Self.bearer(submit.token)).status == 200)
        #expect(http("GET", "\(base)/keys", headers: Self.bearer(submit.token)).status == 403)
        #expect(http("POST", "\(base)/keys", body: #"{"name": "x", "scope": "admin"}"#, headers: Self.bearer(submit.token)).status == 403)
        // admin: keys over HTTP; a new token works at once, and not after it is revoked.
        let listed = http("GET", "\(base)/keys", headers: Self.bearer(admin.token))
        #expect(listed.status == 200 && listed.json["keys"]?.array?.count == 3)
        #expect(!listed.text.contains(read.token) && !listed.text.contains("secret"))
        let made = http("POST", "\(base)/keys", body: #"{"name": "ci", "scope": "submit", "max_jobs": 2}"#, headers: Self.bearer(admin.token))
        #expect(made.status == 201 && made.json["limits"]?["max_jobs"] == 2, "\(made.text)")
        let token = try #require(made.json["token"]?.string), id = try #require(made.json["id"]?.string)
        #expect(http("GET", "\(base)/jobs", headers: Self.bearer(token)).status == 200)
        #expect(http("POST", "\(base)/keys", body: #"{"name": "x", "scope": "root"}"#, headers: Self.bearer(admin.token)).json["error"]?["field"] == "scope")
        #expect(http("DELETE", "\(base)/keys/\(id)", headers: Self.bearer(admin.token)).status == 204)
        let revoked = http("GET", "\(base)/jobs", headers: Self.bearer(token))
        #expect(revoked.status == 401 && revoked.json["error"]?["message"]?.string?.contains("revoked") == true)
        #expect(http("DELETE", "\(base)/keys/k_nosuchkey0000", headers: Self.bearer(admin.token)).status == 404)
    }

    @Test func isolation() throws {
        let h = try Harness()
        let base = h.base
        let alice = try Self.key(h, "submit"), bob = try Self.key(h, "submit"), admin = try Self.key(h, "admin")
        let dashboard = try Self.key(h, "read", ["acts_for": .string(alice.id)])
        let a = Self.bearer(alice.token), b = Self.bearer(bob.token)
        // Alice's upload, training job and model.
        let up = http("POST", "\(base)/datasets?name=tri", body: #"{"points": [[0, 0], [1, 0], [0, 1], [1, 1]]}"#, headers: a)
        let dataset = try #require(up.json["id"]?.string, "\(up.text)")
        let posted = http("POST", "\(base)/train", body: #"{"dataset": "swiss_roll", "steps": 30, "model": {"hidden": [16]}}"#, headers: a)
        let job = try #require(posted.json["id"]?.string, "\(posted.text)")
        let done = waitForJob(base, job, headers: a)
        #expect(done["status"] == "succeeded")
        let model = try #require(done["result"]?["model_id"]?.string)
        // Bob cannot find any of it: 404, as for ids that do not exist.
        for path in ["/jobs/\(job)", "/jobs/\(job)/events", "/models/\(model)", "/models/\(model)/checkpoint", "/datasets/\(dataset)",
                     "/datasets/\(dataset)/points", "/samples?model=\(model)&n=2"] {
            #expect(http("GET", base + path, headers: b).status == 404, "\(path)")
        }
        #expect(http("POST", "\(base)/jobs/\(job)/cancel", headers: b).status == 404)
        #expect(http("DELETE", "\(base)/jobs/\(job)", headers: b).status == 404)
        #expect(http("DELETE", "\(base)/models/\(model)", headers: b).status == 404)
        #expect(http("DELETE", "\(base)/datasets/\(dataset)", headers: b).status == 404)
        #expect(http("POST", "\(base)/train", body: #"{"dataset": "\#(dataset)", "steps": 1}"#, headers: b).json["error"]?["field"] == "dataset")
        #expect(http("POST", "\(base)/likelihood", body: #"{"model": "\#(model)"}"#, headers: b).status == 404)
        #expect(http("GET", "\(base)/jobs", headers: b).json["jobs"]?.array?.isEmpty == true)
        #expect(http("GET", "\(base)/models", headers: b).json["models"]?.array?.isEmpty == true)
        let bobsSets = http("GET", "\(base)/datasets", headers: b).json["datasets"]?.array ?? []
        #expect(!bobsSets.isEmpty && bobsSets.allSatisfy { $0["builtin"] == true })
        // Without a model named, Bob's latest is his own: he has none.
        #expect(http("GET", "\(base)/samples?n=2", headers: b).json["error"]?["field"] == "model")
        // Built-in data sets are everyone's.
        #expect(http("GET", "\(base)/datasets/swiss_roll/points?n=3", headers: b).status == 200)
        // Alice, her read-only dashboard key and the admin see it all.
        #expect(http("GET", "\(base)/models/\(model)", headers: a).status == 200)
        #expect(http("GET", "\(base)/jobs", headers: Self.bearer(dashboard.token)).json["jobs"]?.array?.count == 1)
        #expect(http("GET", "\(base)/models/\(model)", headers: Self.bearer(dashboard.token)).status == 200)
        #expect(http("DELETE", "\(base)/models/\(model)", headers: Self.bearer(dashboard.token)).status == 403)
        #expect(http("GET", "\(base)/jobs/\(job)", headers: Self.bearer(admin.token)).status == 200)
        #expect(http("GET", "\(base)/datasets", headers: Self.bearer(admin.token)).text.contains(dataset))
        // An idempotency key is the caller's own: Bob's same header makes Bob's job, not Alice's back.
        let body = #"{"steps": 1, "model": {"hidden": [8]}}"#
        let first = http("POST", "\(base)/train", body: body, headers: a.merging(["Idempotency-Key": "same"]) { x, _ in x })
        let again = http("POST", "\(base)/train", body: body, headers: a.merging(["Idempotency-Key": "same"]) { x, _ in x })
        let other = http("POST", "\(base)/train", body: body, headers: b.merging(["Idempotency-Key": "same"]) { x, _ in x })
        #expect(first.status == 202 && again.status == 200 && other.status == 202)
        #expect(first.json["id"] == again.json["id"] && other.json["id"] != first.json["id"])
        // Alice deletes her own.
        #expect(http("DELETE", "\(base)/models/\(model)", headers: a).status == 204)
        #expect(http("DELETE", "\(base)/datasets/\(dataset)", headers: a).status == 204)
    }

    @Test func limits() throws {
        let h = try Harness()
        let base = h.base
        let k = try Self.key(h, "submit", ["max_jobs": 1, "max_samples": 10, "max_upload_bytes": 150])
        let auth = Self.bearer(k.token)
        // One job at a time: a second is 429 until the first ends.
        let long = http("POST", "\(base)/train", body: #"{"steps": 1000000, "model": {"hidden": [8]}, "batch_size": 8}"#, headers: auth)
        #expect(long.status == 202)
        let second = http("POST", "\(base)/train", body: #"{"steps": 1}"#, headers: auth)
        #expect(second.status == 429 && second.header("Retry-After") != nil && second.json["error"]?["code"] == "limit_reached")
        let id = try #require(long.json["id"]?.string)
        #expect(http("POST", "\(base)/jobs/\(id)/cancel", headers: auth).status == 200)
        #expect(waitForJob(base, id, headers: auth)["status"] == "canceled")
        // Samples per request.
        #expect(http("GET", "\(base)/samples?target=donut&n=10", headers: auth).status == 200)
        let many = http("GET", "\(base)/samples?target=donut&n=11", headers: auth)
        #expect(many.status == 429 && many.header("Retry-After") != nil)
        // Items evaluated by the likelihood count as samples.
        let small = try #require(http("POST", "\(base)/train", body: #"{"steps": 5, "model": {"hidden": [8]}}"#, headers: auth).json["id"]?.string)
        let model = try #require(waitForJob(base, small, headers: auth)["result"]?["model_id"]?.string)
        let over = http("POST", "\(base)/likelihood", body: #"{"model": "\#(model)", "n": 11}"#, headers: auth)
        #expect(over.status == 429 && over.header("Retry-After") != nil)
        let within = http("POST", "\(base)/likelihood", body: #"{"model": "\#(model)", "n": 10}"#, headers: auth)
        #expect(within.status == 202)
        _ = waitForJob(base, within.json["id"]?.string ?? "", headers: auth)
        // Upload bytes kept, as stored (12 points of 2 floats: 96 bytes): one fits, a second does not until the first is deleted.
        let twelve = "{\"points\": [" + (0..<12).map { _ in "[0.5, 0.25]" }.joined(separator: ",") + "]}"
        let up = http("POST", "\(base)/datasets", body: twelve, headers: auth)
        #expect(up.status == 201, "\(up.text)")
        let full = http("POST", "\(base)/datasets", body: twelve, headers: auth)
        #expect(full.status == 429 && full.header("Retry-After") != nil)
        #expect(http("DELETE", "\(base)/datasets/\(up.json["id"]?.string ?? "")", headers: auth).status == 204)
        #expect(http("POST", "\(base)/datasets", body: twelve, headers: auth).status == 201)
        // Concurrent submissions of a key at its job limit: one is queued, the others refused.
        let two = try Self.key(h, "submit", ["max_jobs": 2])
        let codes = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 12) { _ in
            let r = http("POST", "\(base)/train", body: #"{"steps": 1000000, "model": {"hidden": [8]}, "batch_size": 8}"#, headers: Self.bearer(two.token))
            codes.withLock { $0.append(r.status) }
        }
        let got = codes.withLock { $0 }
        #expect(got.filter { $0 == 202 }.count == 2 && got.filter { $0 == 429 }.count == 10, "\(got)")
        for j in http("GET", "\(base)/jobs", headers: Self.bearer(two.token)).json["jobs"]?.array ?? [] {
            _ = http("POST", "\(base)/jobs/\(j["id"]?.string ?? "")/cancel", headers: Self.bearer(two.token))
        }
    }

    @Test func keysActingForARevokedKeyAreRefused() throws {
        let h = try Harness()
        let owner = try Self.key(h, "submit"), board = try Self.key(h, "read", ["acts_for": .string(owner.id)])
        #expect(http("GET", "\(h.base)/jobs", headers: Self.bearer(board.token)).status == 200)
        let store = try SQLiteStore(path: h.service.config.storePath)
        #expect(try store.revokeKey(owner.id, at: Date().timeIntervalSince1970))
        Thread.sleep(forTimeInterval: 1.1)  // revoked by another process: seen within a second
        #expect(http("GET", "\(h.base)/jobs", headers: Self.bearer(board.token)).status == 401)
    }

    @Test func loopbackAddresses() {
        for a in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "0:0:0:0:0:0:0:1"] { #expect(ServiceConfig.isLoopbackAddress(a), "\(a)") }
        for a in ["127.example.net", "0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost"] { #expect(!ServiceConfig.isLoopbackAddress(a), "\(a)") }
        var c = ServiceConfig()
        c.hosts = ["127.example.net"]
        #expect(!c.loopbackOnly && c.authAlwaysRequired)
        c.hosts = ["127.0.0.1", "::1", "localhost"]
        #expect(c.loopbackOnly && !c.authAlwaysRequired)
    }

    @Test func beyondLoopbackKeysAreRequired() throws {
        let h = try Harness { $0.hosts = ["0.0.0.0"] }
        #expect(http("GET", "\(h.base)/jobs").status == 401)
        #expect(http("GET", "\(h.base)/healthz").status == 200)
        let k = try Self.key(h, "read")
        #expect(http("GET", "\(h.base)/jobs", headers: Self.bearer(k.token)).status == 200)
    }

    @Test func preflightsNeedNoKey() throws {
        let h = try Harness { $0.corsAllowedOrigins = ["https://app.example"] }
        _ = try Self.key(h, "submit")
        let pre = http("OPTIONS", "\(h.base)/train", headers: ["Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                                                                "Access-Control-Request-Headers": "Authorization, Content-Type"])
        #expect(pre.status == 204 && pre.header("Access-Control-Allow-Headers") == "authorization, content-type")
        let r = http("GET", "\(h.base)/jobs", headers: ["Origin": "https://app.example"])
        #expect(r.status == 401 && r.header("Access-Control-Allow-Origin") == "https://app.example")
    }

    @Test func tokensStaySecret() throws {
        let log = CapturedLog()
        let h = try Harness(logger: Logger(label: "test") { _ in CapturedLog.Handler(log: log) })
        let base = h.base
        let k = try Self.key(h, "submit")
        let auth = Self.bearer(k.token)
        let secret = String(k.token.split(separator: "_").last!)
        let job = try #require(http("POST", "\(base)/train", body: #"{"steps": 5, "model": {"hidden": [8]}}"#, headers: auth).json["id"]?.string)
        _ = waitForJob(base, job, headers: auth)
        _ = http("GET", "\(base)/jobs/nope", headers: auth)
        _ = http("GET", "\(base)/jobs", headers: Self.bearer(k.token + "x"))
        _ = http("GET", "\(base)/samples?target=nope", headers: auth)
        // An unparsable request with the token in it, logged by the HTTP layer if at all.
        _ = http("GET", "\(base)/jobs?x=%zz", headers: auth)
        let metrics = http("GET", "\(base)/metrics", headers: auth).text
        let record = http("GET", "\(base)/jobs/\(job)", headers: auth).text
        let listed = http("GET", "\(base)/jobs", headers: auth).text
        h.service.stop()
        let store = try Data(contentsOf: URL(fileURLWithPath: h.service.config.storePath))
        #expect(!log.text.isEmpty)
        for (name, text) in [("log", log.text), ("metrics", metrics), ("job", record), ("jobs", listed),
                             ("store", String(decoding: store, as: UTF8.self))] {
            #expect(!text.contains(secret), "the token's secret is in the \(name)")
        }
    }
}

/// Every log line, at every level.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            let all = self.metadata.merging(metadata ?? [:]) { _, b in b }
            log.lines.withLock { $0.append("\(level) \(message) \(all)") }
        }
    }
}
