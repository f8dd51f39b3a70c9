import Foundation
import HTTPServer
import ScoreEngine

/// Training requests and jobs: `POST /train`, `GET /presets`, `GET /recipe`, and `/jobs…` (list, read, delete,
/// cancel, the event stream, a sampling job's result, a training job's loss series).
struct JobsController: RouteCollection {
    let store: any RecordStore
    let runner: JobRunner
    let submitter: JobSubmitter
    let renderer: JobRenderer
    let hub: JobHub
    let datasets: DatasetCatalog
    let results: ResultStore
    let artifacts: Artifacts
    let housekeeping: Housekeeping
    let isStopping: @Sendable () -> Bool

    static let listParameters: [Parameter] = [
        Parameter("status", .choice(JobStatus.allCases.map(\.rawValue)), default: .none(""), help: "only jobs in this state"),
        Parameter("kind", .choice(JobKind.allCases.map(\.rawValue)), default: .none(""), help: "only jobs of this kind"),
        Parameter("limit", .integer(1...1000), default: .value(100), help: "at most this many, newest first"),
    ]

    func register(on r: Router) {
        r.add("POST", "/train", idempotent: true) { req, _ in try train(req) }
        r.add("GET", "/presets", quick: true) { _, _ in jsonResponse(200, ["presets": .array(Presets.all.map(\.json))]) }
        r.add("GET", "/recipe", quick: true) { _, _ in jsonResponse(200, JobsController.recipeDescription) }
        r.add("GET", "/jobs", query: { JobsController.listParameters }) { req, _ in try list(req) }
        // Quick: the rendered body is cached by the job's version.
        r.add("GET", "/jobs/{id}", quick: true) { _, p in try get(p["id"]!) }
        r.add("DELETE", "/jobs/{id}") { _, p in try remove(p["id"]!) }
        r.add("POST", "/jobs/{id}/cancel") { _, p in try cancel(p["id"]!) }
        r.add("GET", "/jobs/{id}/events") { _, p in try events(p["id"]!) }
        r.add("GET", "/jobs/{id}/result") { _, p in try result(p["id"]!) }
        r.add("GET", "/jobs/{id}/metrics") { _, p in try metrics(p["id"]!) }
    }

    /// `POST /train`: the body's fields (and a preset's) built into a recipe, queued as a training job whose
    /// parameters are the effective recipe.
    func train(_ req: HTTPRequest) throws -> HTTPResponse {
        let recipe = try RecipeSchema.build(try RecipeSchema.flatten(try req.jsonBody())) { try datasets.kind(of: $0) }
        if recipe.objectiveEntry.needsLabels, try datasets.classes(recipe.dataset) == nil {
            throw InvalidParameter("dataset", "\(recipe.dataset) has no labels; objective \(recipe.objective) needs a labelled data set "
                                   + "(built in: \(BuiltinDatasets.names.filter { BuiltinDatasets.classes($0) != nil }.joined(separator: ", ")); "
                                   + "uploads: a CSV label column, JSON labels, or PUT /datasets/{id}/labels)")
        }
        let params = TrainingJobParameters(recipe: recipe).json
        return submitter.accepted(try submitter.submit(.train, params: params, key: try req.idempotencyKey()))
    }

    func list(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try req.fields()
        let v = try q.take(JobsController.listParameters)
        try q.finish()
        let jobs = try store.jobs(status: v["status"]?.string.flatMap(JobStatus.init(rawValue:)),
                                  kind: v["kind"]?.string.flatMap(JobKind.init(rawValue:)), limit: v.int("limit"),
                                  owner: Caller.current.listingOwner)
        return jsonResponse(200, ["jobs": .array(jobs.map(renderer.json))])
    }

    /// A job the caller may see (another key's is not found, so that ids say nothing).
    func job(_ id: String) throws -> JobRecord {
        guard let j = try store.job(id), Caller.current.sees(j.owner) else { throw APIError.notFound("no job \(id)") }
        return j
    }

    func get(_ id: String) throws -> HTTPResponse {
        guard let (owner, body) = try renderer.body(id), Caller.current.sees(owner) else { throw APIError.notFound("no job \(id)") }
        return HTTPResponse(status: 200, contentType: "application/json", body: body)
    }

    func remove(_ id: String) throws -> HTTPResponse {
        let j = try job(id)
        guard j.status.isFinished else { throw APIError.conflict("job \(id) is \(j.status.rawValue); cancel it first") }
        try housekeeping.deleteJob(j)
        return HTTPResponse(status: 204)
    }

    func cancel(_ id: String) throws -> HTTPResponse {
        _ = try job(id)
        guard let j = try runner.cancel(id) else { throw APIError.notFound("no job \(id)") }
        return jsonResponse(200, renderer.json(j))
    }

    /// Server-sent events: the job now, then again each time it changes (`event: job`), a sampling job's previews
    /// as they come (`event: preview`, when it was asked for them), until it ends (`event: end`).
    func events(_ id: String) throws -> HTTPResponse {
        _ = try job(id)
        var h = HTTPHeaders()
        h.add("Content-Type", "text/event-stream")
        h.add("Cache-Control", "no-cache")
        let (store, hub, renderer, runner, isStopping) = (self.store, self.hub, self.renderer, self.runner, self.isStopping)
        return HTTPResponse(status: 200, headers: h, body: .stream { out in
            var seen = -1, previewSeen = 0
            while true {
                let version = seen < 0 ? hub.version(id) : await hub.next(id, after: seen, timeout: 15)
                guard let j = try store.job(id) else { try await out.write("event: end\ndata: {\"deleted\":true}\n\n"); return }
                if version == seen {
                    try await out.write(": keep-alive\n\n")  // also notices a client that left
                } else {
                    seen = version
                    if j.kind == .sample, let p = runner.livePreview(id), p.number != previewSeen {
                        previewSeen = p.number
                        try await out.write("event: preview\ndata: \(p.body.serialized)\n\n")
                    }
                    try await out.write("event: job\ndata: \(renderer.json(j).serialized)\n\n")
                }
                if j.status.isFinished {
                    try await out.write("event: end\ndata: {\"status\":\"\(j.status.rawValue)\"}\n\n")
                    return
                }
                if isStopping() { return }
            }
        })
    }

    /// A training job's series (`TrainingHistory`): live while it runs, saved after; empty before its first
    /// report.
    func metrics(_ id: String) throws -> HTTPResponse {
        let j = try job(id)
        guard j.kind == .train else { throw APIError.notFound("job \(id) is a \(j.kind.rawValue) job; only training jobs have a loss series") }
        let stored = runner.liveHistory(id) == nil ? try artifacts.read(artifacts.history(id)) : nil
        let history = runner.liveHistory(id)
            ?? stored.flatMap { try? JSONValue(parsing: $0) }.flatMap(TrainingHistory.init(stored:))
            ?? TrainingHistory()
        var body = history.json.object ?? [:]
        body["job_id"] = .string(id)
        body["status"] = .string(j.status.rawValue)
        body["total"] = j.params["steps"] ?? .null
        return jsonResponse(200, .object(body), headers: [("Cache-Control", "no-cache")])
    }

    func result(_ id: String) throws -> HTTPResponse {
        let j = try job(id)
        // Sampling jobs, and likelihood jobs that encoded items (their result names the document).
        guard j.kind == .sample || (j.kind == .likelihood && j.params["items"] != nil) else {
            throw APIError.notFound(j.kind == .train ? "training jobs have a model, not a result file: see links.model"
                                                     : "the result of job \(id) is in its `result` field")
        }
        guard j.status == .succeeded else { throw APIError.conflict("job \(id) is \(j.status.rawValue)") }
        return try JobsController.resultResponse(j, results)
    }

    /// A succeeded sampling job's result document, with its media type.
    static func resultResponse(_ j: JobRecord, _ results: ResultStore, headers: [(String, String)] = []) throws -> HTTPResponse {
        let format = j.result?["format"]?.string ?? j.params["format"]?.string ?? "json"
        guard let r = try results.result(job: j.id, format: format) else {
            throw APIError(status: 410, code: "gone", message: "the result of job \(j.id) was deleted")
        }
        return r.response(extraHeaders: headers)
    }

    /// The recipe's fields for clients that build forms (`GET /recipe`): every field with its type, range,
    /// defaults for points and images, the data it applies to and help; the objectives and SDEs with theirs.
    static var recipeDescription: JSONValue {
        var fields: [JSONValue] = RecipeSchema.fields.map { f in
            var o = f.parameter.describe().object ?? [:]
            o["path"] = .string(f.path)
            o["kinds"] = .array(f.kinds.map { .string($0.rawValue) })
            o["default_points"] = f.parameter.defaultValue(kind: .points, source: nil) ?? .null
            o["default_images"] = f.parameter.defaultValue(kind: .images, source: nil) ?? .null
            return .object(o)
        }
        for (p, owners) in RecipeSchema.perturbationFields {
            var o = p.describe().object ?? [:]
            o["path"] = .string(p.key)
            o["kinds"] = .array(DataKind.allCases.map { .string($0.rawValue) })
            o["applies_to"] = .array(owners.map { .string($0) })
            o["default_points"] = p.defaultValue(kind: .points, source: nil) ?? .null
            o["default_images"] = p.defaultValue(kind: .images, source: nil) ?? .null
            fields.append(.object(o))
        }
        var preset = RecipeSchema.presetParameter.describe().object ?? [:]
        preset["path"] = "preset"
        fields.insert(.object(preset), at: 0)
        return [
            "fields": .array(fields),
            "objectives": .array(ObjectiveRegistry.all.map { e in
                ["name": .string(e.name), "summary": .string(e.summary), "kinds": .array(e.kinds.map { .string($0.rawValue) }),
                 "parameters": .array(e.parameters.map { .string($0.key) })]
            }),
            "sdes": .array(SDERegistry.all.map { e in
                ["name": .string(e.name), "summary": .string(e.summary), "parameters": .array(e.parameters.map { .string($0.key) })]
            }),
        ]
    }
}
