import Foundation
import HTTPServer
import ScoreEngine

/// Trained models: `GET /models`, `GET /models/{id}`, `DELETE /models/{id}`, `GET /models/{id}/checkpoint`.
struct ModelsController: RouteCollection {
    let store: any RecordStore
    let artifacts: Artifacts
    let housekeeping: Housekeeping

    static let listParameters: [Parameter] = [
        Parameter("limit", .integer(1...1000), default: .value(100), help: "at most this many, newest first"),
    ]

    func register(on r: Router) {
        r.add("GET", "/models", query: { ModelsController.listParameters }) { req, _ in try list(req) }
        r.add("GET", "/models/{id}") { _, p in jsonResponse(200, try ModelsController.json(try record(p["id"]!))) }
        r.add("DELETE", "/models/{id}") { _, p in try remove(p["id"]!) }
        r.add("GET", "/models/{id}/checkpoint") { _, p in try checkpoint(p["id"]!) }
    }

    /// A model as the API shows it: its record (`ModelInfo`), the samplers it takes with their defaults, links.
    static func json(_ m: ModelRecord) throws -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(m.id), "job_id": .string(m.jobId), "created_at": Timestamp.json(m.createdAt)]
        let info = ModelInfo(m.info)
        for (k, v) in info.json.object ?? [:] { o[k] = v }
        for (k, v) in try info.samplers(model: m.id) { o[k] = v }
        o["links"] = ["self": .string("/models/\(m.id)"), "checkpoint": .string("/models/\(m.id)/checkpoint"),
                      "samples": .string("/samples?model=\(m.id)"), "job": .string("/jobs/\(m.jobId)")]
        return .object(o)
    }

    func list(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try req.fields()
        let v = try q.take(ModelsController.listParameters)
        try q.finish()
        return jsonResponse(200, ["models": .array(try store.models(limit: v.int("limit"), owner: Caller.current.listingOwner).map { try ModelsController.json($0) })])
    }

    func record(_ id: String) throws -> ModelRecord {
        guard let m = try store.model(id), Caller.current.sees(m.owner) else { throw APIError.notFound("no model \(id)") }
        return m
    }

    func remove(_ id: String) throws -> HTTPResponse {
        _ = try record(id)
        try housekeeping.deleteModel(id)
        return HTTPResponse(status: 204)
    }

    func checkpoint(_ id: String) throws -> HTTPResponse {
        _ = try record(id)
        guard let data = artifacts.read(artifacts.checkpoint(id)) else {
            throw APIError(status: 410, code: "gone", message: "the checkpoint of model \(id) is missing")
        }
        var h = HTTPHeaders()
        h.add("Content-Type", "application/octet-stream")
        h.add("Content-Disposition", "attachment; filename=\"\(id).safetensors\"")
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array(data)))
    }
}
