import Foundation
import HTTPServer
import ScoreEngine
import Synchronization

/// Jobs as the API shows them: the record with live progress and links, rendered once per version (clients
/// poll `GET /jobs/{id}`, and each change to a job bumps its version in the hub).
final class JobRenderer: Sendable {
    let store: any RecordStore
    let runner: JobRunner
    let hub: JobHub
    /// Rendered bodies by job, with the hub version they show and the job's owner (which never changes).
    private let rendered = Mutex<[String: (version: Int, owner: String?, body: [UInt8], at: Double)]>([:])

    init(store: any RecordStore, runner: JobRunner, hub: JobHub) {
        self.store = store
        self.runner = runner
        self.hub = hub
    }

    func json(_ j: JobRecord) -> JSONValue {
        var links: [String: JSONValue] = ["self": .string("/jobs/\(j.id)"), "events": .string("/jobs/\(j.id)/events")]
        if !j.status.isFinished { links["cancel"] = .string("/jobs/\(j.id)/cancel") }
        if j.status == .succeeded {
            if let m = j.result?["model_id"]?.string {
                links["model"] = .string("/models/\(m)")
                links["checkpoint"] = .string("/models/\(m)/checkpoint")
            }
            if j.kind == .sample || (j.kind == .likelihood && j.params["items"] != nil) { links["result"] = .string("/jobs/\(j.id)/result") }
        }
        let progress = (j.status == .running ? runner.liveProgress(j.id) : nil) ?? j.progress
        return [
            "id": .string(j.id), "kind": .string(j.kind.rawValue), "status": .string(j.status.rawValue),
            "params": JobRenderer.shown(j.params), "created_at": Timestamp.json(j.createdAt), "started_at": Timestamp.json(j.startedAt),
            "finished_at": Timestamp.json(j.finishedAt), "progress": progress?.json ?? .null,
            "error": j.error.map { .string($0) } ?? .null, "result": j.result ?? .null,
            "attempts": .number(Double(j.attempts)), "links": .object(links),
        ]
    }

    /// A job's parameters as the API shows them: the bulky values a request carried (an inpainting job's image
    /// and mask, the latents decoded, the items encoded) replaced by their sizes; the record keeps them whole.
    static func shown(_ params: JSONValue) -> JSONValue {
        guard var o = params.object else { return params }
        if let latents = o["latents"]?.array { o["latents"] = nil; o["latent_values"] = .number(Double(latents.count)) }
        if let items = o["items"]?.array { o["items"] = nil; o["item_values"] = .number(Double(items.count)) }
        if var inpaint = o["inpaint"]?.object {
            if let image = inpaint["image"]?.array { inpaint["image"] = nil; inpaint["values"] = .number(Double(image.count)) }
            if let mask = inpaint["mask"]?.array {
                inpaint["mask"] = nil
                inpaint["known"] = .number(Double(mask.filter { ($0.number ?? 0) > 0.5 }.count))
            }
            o["inpaint"] = .object(inpaint)
        }
        return .object(o)
    }

    /// `GET /jobs/{id}`'s body and the job's owner: rendered and read from the store only when the job changed
    /// (clients poll it).
    /// On a shared store a cached body is also kept for a second at most: the other nodes' notifications are
    /// what moves the version here, and one may be missed (a reconnection).
    func body(_ id: String) throws -> (owner: String?, body: [UInt8])? {
        let version = hub.version(id)
        let now = ProcessInfo.processInfo.systemUptime, shared = store.isShared
        if let hit = rendered.withLock({ c -> (String?, [UInt8])? in
            guard let e = c[id], e.version == version, !shared || now - e.at < 1 else { return nil }
            return (e.owner, e.body)
        }) {
            return hit
        }
        guard let job = try store.job(id) else { return nil }
        let body = Array((json(job).serialized + "\n").utf8)
        rendered.withLock { c in
            if c.count > 4096 { c.removeAll() }
            c[id] = (version, job.owner, body, now)
        }
        return (job.owner, body)
    }

    func forget(_ id: String) { rendered.withLock { $0[id] = nil } }
}

/// RFC 3339 UTC timestamps with milliseconds, formatted directly (Foundation's ISO8601DateFormatter goes
/// through ICU, far slower than the rest of a `GET /jobs/{id}`).
enum Timestamp {
    static func json(_ t: Double?) -> JSONValue {
        guard let t, t.isFinite else { return .null }
        var seconds = time_t(t.rounded(.down))
        let ms = Int(((t - Double(seconds)) * 1000).rounded(.down))
        var tmv = tm()
        gmtime_r(&seconds, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return .string("\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday))T\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)).\(msText)Z")
    }
}
