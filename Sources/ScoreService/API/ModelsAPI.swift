import Foundation
import HTTPServer
import ScoreEngine

extension Service {
    func modelJSON(_ m: ModelRecord) -> JSONValue {
        var o: [String: JSONValue] = ["id": .string(m.id), "job_id": .string(m.jobId), "created_at": Service.iso(m.createdAt)]
        if case .object(let info) = m.info { for (k, v) in info { o[k] = v } }
        o["links"] = ["self": .string("/models/\(m.id)"), "checkpoint": .string("/models/\(m.id)/checkpoint"),
                      "samples": .string("/samples?model=\(m.id)"), "job": .string("/jobs/\(m.jobId)")]
        return .object(o)
    }

    func listModels(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try query(req)
        let limit = try q.int("limit", 1...1000, default: 100)!
        try q.finish()
        return json(200, ["models": .array(try store.models(limit: limit).map(modelJSON))])
    }

    func modelRecord(_ id: String) throws -> ModelRecord {
        guard let m = try store.model(id) else { throw APIError.notFound("no model \(id)") }
        return m
    }

    func getModel(_ id: String) throws -> HTTPResponse { json(200, modelJSON(try modelRecord(id))) }

    func removeModel(_ id: String) throws -> HTTPResponse {
        _ = try modelRecord(id)
        try deleteModel(id)
        return HTTPResponse(status: 204)
    }

    func checkpoint(_ id: String) throws -> HTTPResponse {
        _ = try modelRecord(id)
        guard let data = artifacts.read(artifacts.checkpoint(id)) else {
            throw APIError(status: 410, code: "gone", message: "the checkpoint of model \(id) is missing")
        }
        var h = HTTPHeaders()
        h.add("Content-Type", "application/octet-stream")
        h.add("Content-Disposition", "attachment; filename=\"\(id).safetensors\"")
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array(data)))
    }
}
