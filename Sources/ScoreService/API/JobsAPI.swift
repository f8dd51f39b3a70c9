import Foundation
import HTTPServer
import ScoreEngine

extension Service {
    /// RFC 3339 UTC with milliseconds (formatted directly: Foundation's ISO8601DateFormatter goes through
    /// ICU and cost most of a GET /jobs/{id}).
    static func iso(_ t: Double?) -> JSONValue {
        guard let t, t.isFinite else { return .null }
        var seconds = time_t(t.rounded(.down))
        let ms = Int(((t - Double(seconds)) * 1000).rounded(.down))
        var tmv = tm()
        gmtime_r(&seconds, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return .string("\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))T\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)).\(msText)Z")
    }

    /// A job as the API shows it, with live progress and links.
    func jobJSON(_ j: JobRecord) -> JSONValue {
        var links: [String: JSONValue] = ["self": .string("/jobs/\(j.id)"), "events": .string("/jobs/\(j.id)/events")]
        if !j.status.isFinished { links["cancel"] = .string("/jobs/\(j.id)/cancel") }
        if j.status == .succeeded {
            if case .string(let m)? = j.result?["model_id"] {
                links["model"] = .string("/models/\(m)")
                links["checkpoint"] = .string("/models/\(m)/checkpoint")
            }
            if j.kind == .sample { links["result"] = .string("/jobs/\(j.id)/result") }
        }
        let progress = (j.status == .running ? runner.liveProgress(j.id) : nil) ?? j.progress
        return [
            "id": .string(j.id), "kind": .string(j.kind.rawValue), "status": .string(j.status.rawValue),
            "params": j.params, "created_at": Service.iso(j.createdAt), "started_at": Service.iso(j.startedAt),
            "finished_at": Service.iso(j.finishedAt), "progress": progress?.json ?? .null,
            "error": j.error.map { .string($0) } ?? .null, "result": j.result ?? .null,
            "attempts": .number(Double(j.attempts)), "links": .object(links),
        ]
    }

    func queueFull(_ lane: Lane) -> APIError {
        var e = APIError(status: 429, code: "queue_full", message: "the \(lane.rawValue) queue holds \(config.maxQueuedJobs) jobs; retry later")
        e.headers = [("Retry-After", "10")]
        return e
    }

    /// Queues a job and answers 202 with it (200 when an idempotency key returned an existing one).
    func submit(_ kind: JobKind, params: JSONValue, key: String?) throws -> HTTPResponse {
        let record = JobRecord(id: newID("j"), kind: kind, params: params, createdAt: Date().timeIntervalSince1970, idempotencyKey: key)
        do {
            let (job, created) = try runner.submit(record)
            return json(created ? 202 : 200, jobJSON(job), headers: [("Location", "/jobs/\(job.id)")])
        } catch let e as JobRunner.QueueFull {
            throw queueFull(e.lane)
        }
    }

    func train(_ req: HTTPRequest) throws -> HTTPResponse {
        let recipe = try TrainRequest.parse(try jsonBody(req)) { [datasets] name in try datasets.isImages(name) }
        guard try datasets.exists(recipe.dataset) else {
            throw APIError.invalid("dataset", "unknown data set \(recipe.dataset) (see GET /datasets)")
        }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        return try submit(.train, params: try JSONValue(parsing: Array(enc.encode(recipe))), key: try idempotencyKey(req))
    }

    func listJobs(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try query(req)
        let status = try q.string("status", allowed: JobStatus.allCases.map(\.rawValue)).flatMap(JobStatus.init(rawValue:))
        let kind = try q.string("kind", allowed: JobKind.allCases.map(\.rawValue)).flatMap(JobKind.init(rawValue:))
        let limit = try q.int("limit", 1...1000, default: 100)!
        try q.finish()
        return json(200, ["jobs": .array(try store.jobs(status: status, kind: kind, limit: limit).map(jobJSON))])
    }

    func job(_ id: String) throws -> JobRecord {
        guard let j = try store.job(id) else { throw APIError.notFound("no job \(id)") }
        return j
    }

    /// A job, rendered once per version: clients poll this, and each change to a job bumps its version in the
    /// hub (render and store reads measured at 85% of the request's time).
    func getJob(_ id: String) throws -> HTTPResponse {
        let version = hub.version(id)
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        if let body = renderedJobs.withLock({ c -> [UInt8]? in
            guard let e = c[id], e.version == version else { return nil }
            return e.body
        }) {
            return HTTPResponse(status: 200, headers: h, body: .bytes(body))
        }
        let body = Array((jobJSON(try job(id)).serialized + "\n").utf8)
        renderedJobs.withLock { c in
            if c.count > 4096 { c.removeAll() }
            c[id] = (version, body)
        }
        return HTTPResponse(status: 200, headers: h, body: .bytes(body))
    }

    func removeJob(_ id: String) throws -> HTTPResponse {
        let j = try job(id)
        guard j.status.isFinished else { throw APIError.conflict("job \(id) is \(j.status.rawValue); cancel it first") }
        try deleteJob(j)
        return HTTPResponse(status: 204)
    }

    func cancelJob(_ id: String) throws -> HTTPResponse {
        _ = try job(id)
        guard let j = try runner.cancel(id) else { throw APIError.notFound("no job \(id)") }
        return json(200, jobJSON(j))
    }

    /// Server-sent events: the job now, then again each time it changes, until it ends (`event: end`).
    func events(_ id: String) throws -> HTTPResponse {
        _ = try job(id)
        var h = HTTPHeaders()
        h.add("Content-Type", "text/event-stream")
        h.add("Cache-Control", "no-cache")
        return HTTPResponse(status: 200, headers: h, body: .stream { [unowned self] out in
            var seen = -1
            while true {
                let version = seen < 0 ? hub.version(id) : hub.wait(id, after: seen, timeout: 15)
                guard let j = try store.job(id) else { try out.write("event: end\ndata: {\"deleted\":true}\n\n"); return }
                if version == seen {
                    try out.write(": keep-alive\n\n")  // also notices a client that left
                } else {
                    seen = version
                    try out.write("event: job\ndata: \(jobJSON(j).serialized)\n\n")
                }
                if j.status.isFinished {
                    try out.write("event: end\ndata: {\"status\":\"\(j.status.rawValue)\"}\n\n")
                    return
                }
                if stopping.load(ordering: .relaxed) { return }
            }
        })
    }

    func result(_ id: String) throws -> HTTPResponse {
        let j = try job(id)
        guard j.kind == .sample else {
            throw APIError.notFound(j.kind == .train ? "training jobs have a model, not a result file: see links.model"
                                                     : "the result of job \(id) is in its `result` field")
        }
        guard j.status == .succeeded else { throw APIError.conflict("job \(id) is \(j.status.rawValue)") }
        return try resultResponse(j)
    }
}
