import HTTPServer

extension Service {
    /// The HTTP API (see `public/openapi.json`, which a test keeps equal to this table).
    func registerRoutes() {
        let r = router
        r.add("GET", "/") { [unowned self] req, _ in try staticFile("index.html", req) }
        r.add("GET", "/assets/{name}") { [unowned self] req, p in try staticFile(p["name"]!, req) }
        r.add("GET", "/openapi.json") { [unowned self] req, _ in try staticFile("openapi.json", req) }
        r.add("GET", "/healthz") { [unowned self] _, _ in health() }
        r.add("GET", "/metrics") { [unowned self] _, _ in try metricsText() }

        r.add("POST", "/train") { [unowned self] req, _ in try train(req) }
        r.add("GET", "/jobs") { [unowned self] req, _ in try listJobs(req) }
        r.add("GET", "/jobs/{id}") { [unowned self] _, p in try getJob(p["id"]!) }
        r.add("DELETE", "/jobs/{id}") { [unowned self] _, p in try removeJob(p["id"]!) }
        r.add("POST", "/jobs/{id}/cancel") { [unowned self] _, p in try cancelJob(p["id"]!) }
        r.add("GET", "/jobs/{id}/events") { [unowned self] _, p in try events(p["id"]!) }
        r.add("GET", "/jobs/{id}/result") { [unowned self] _, p in try result(p["id"]!) }

        r.add("GET", "/samples") { [unowned self] req, _ in try samples(req) }
        r.add("POST", "/inpaint") { [unowned self] req, _ in try inpaint(req) }
        r.add("POST", "/likelihood") { [unowned self] req, _ in try likelihood(req) }

        r.add("GET", "/models") { [unowned self] req, _ in try listModels(req) }
        r.add("GET", "/models/{id}") { [unowned self] _, p in try getModel(p["id"]!) }
        r.add("DELETE", "/models/{id}") { [unowned self] _, p in try removeModel(p["id"]!) }
        r.add("GET", "/models/{id}/checkpoint") { [unowned self] _, p in try checkpoint(p["id"]!) }

        r.add("GET", "/datasets") { [unowned self] _, _ in try listDatasets() }
        r.add("POST", "/datasets") { [unowned self] req, _ in try uploadDataset(req) }
        r.add("GET", "/datasets/{id}") { [unowned self] _, p in try getDataset(p["id"]!) }
        r.add("DELETE", "/datasets/{id}") { [unowned self] _, p in try removeDataset(p["id"]!) }
        r.add("GET", "/datasets/{id}/points") { [unowned self] req, p in try datasetPoints(p["id"]!, req) }
    }

    /// Query parameters, refusing undecodable ones.
    func query(_ req: HTTPRequest) throws -> Fields {
        guard let items = req.queryItems else { throw APIError.invalid("query", "is not valid percent-encoded UTF-8") }
        return try Fields(query: items)
    }

    /// The JSON body (an empty body reads as `{}`). Refuses other media types, except curl's default label
    /// for `-d` (application/x-www-form-urlencoded), so that `curl -d '{…}'` works as written.
    func jsonBody(_ req: HTTPRequest) throws -> JSONValue {
        if let ct = req.headers["Content-Type"]?.lowercased(), !ct.hasPrefix("application/json"),
           !ct.hasPrefix("application/x-www-form-urlencoded") {
            throw APIError(status: 415, code: "unsupported_media_type", message: "expected application/json, got \(ct)")
        }
        if req.body.isEmpty { return .object([:]) }
        do { return try JSONValue(parsing: req.body) } catch let e as JSONValue.ParseError {
            throw APIError(status: 400, code: "invalid_json", message: e.description)
        }
    }

    func idempotencyKey(_ req: HTTPRequest) throws -> String? {
        guard let k = req.headers["Idempotency-Key"] else { return nil }
        guard (1...200).contains(k.count) else { throw APIError.invalid("Idempotency-Key", "must be 1 to 200 characters") }
        return k
    }
}

import ScoreEngine
