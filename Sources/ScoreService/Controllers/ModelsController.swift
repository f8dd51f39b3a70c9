import Foundation
import HTTPServer
import ScoreEngine

/// Trained models: `GET /models`, `GET /models/{id}`, `DELETE /models/{id}`, `GET /models/{id}/checkpoint`, and
/// a 2-D model's learned score on a grid, `GET /models/{id}/score`.
struct ModelsController: RouteCollection {
    let store: any RecordStore
    let artifacts: Artifacts
    let housekeeping: Housekeeping
    let models: ModelCache
    let datasets: DatasetCatalog

    /// Grid points × parameters one `GET /models/{id}/score` may evaluate.
    static let scoreBudget = 300_000_000

    static let scoreParameters: [Parameter] = [
        Parameter("t", .number(.closed(0, 1e6)), default: .none("10⁻³ × T for an SDE, 0 (σ_min) for a noise ladder"),
                  help: "the time (noise level) of the score: in [10⁻⁵ T, T] for an SDE, [0, 1] for a noise ladder (σ_min to σ_max); not for models without one"),
        Parameter("grid", .integer(2...64), default: .value(20), help: "grid points per side"),
        Parameter("box", .numberList(count: 4...4), default: .none("the training data's bounding box with a 10% margin"),
                  help: "x_min,x_max,y_min,y_max of the grid"),
    ]

    static let listParameters: [Parameter] = [
        Parameter("limit", .integer(1...1000), default: .value(100), help: "at most this many, newest first"),
    ]

    func register(on r: Router) {
        r.add("GET", "/models", query: { ModelsController.listParameters }) { req, _ in try list(req) }
        r.add("GET", "/models/{id}") { _, p in jsonResponse(200, try ModelsController.json(try record(p["id"]!))) }
        r.add("DELETE", "/models/{id}") { _, p in try remove(p["id"]!) }
        r.add("GET", "/models/{id}/checkpoint") { _, p in try checkpoint(p["id"]!) }
        r.add("GET", "/models/{id}/score", query: { ModelsController.scoreParameters }) { req, p in try score(p["id"]!, req) }
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

    /// The score s(x, t) at the points of a grid over a box, for a model of 2-D points (the vector field the
    /// method is taught with), with σ(t) of its perturbation.
    func score(_ id: String, _ req: HTTPRequest) throws -> HTTPResponse {
        var q = try req.fields()
        let v = try q.take(ModelsController.scoreParameters)
        try q.finish()
        let m: LoadedModel
        do { m = try models.load(id) } catch is ModelCache.Unknown { throw APIError.notFound("no model \(id)") }
        guard !m.model.isClassifier else { throw InvalidParameter("model", "\(id) is a classifier; the score field is a score model's") }
        guard m.model.sampleShape == [2] else {
            throw APIError.conflict("model \(id) has items of shape \(m.model.sampleShape); the score field is drawn for 2-D points")
        }
        // The time: where the model has one.
        var t = 0.0, sigma: Double? = nil
        switch m.model.schedule {
        case .sde(let sde):
            t = v.has("t") ? v.double("t") : 1e-3 * sde.T
            // Below the likelihood's ε the kernel's σ(t) vanishes and so does the training signal.
            let lowest = LikelihoodEstimator.defaultEpsilon * sde.T
            guard t >= lowest && t <= sde.T else {
                throw InvalidParameter("t", "must be in [\(JSONValue.format(lowest)), \(JSONValue.format(sde.T))] for this \(sde.name) model")
            }
            sigma = sde.std(t)
        case .ladder(let ladder):
            t = v.has("t") ? v.double("t") : 0
            guard t <= 1 else { throw InvalidParameter("t", "must be in [0, 1] for a noise ladder (σ_min at 0, σ_max at 1)") }
            sigma = ladder.std(t)
        case .fixed(let s):
            if v.has("t") { throw InvalidParameter.doesNotApply("t", "does not apply: this model learned one noise level (σ = \(JSONValue.format(s)))") }
            sigma = s
        case .none:
            if v.has("t") { throw InvalidParameter.doesNotApply("t", "does not apply: this model learned the data's score, with no noise level") }
        }
        var box: [Double]
        if v.has("box") {
            box = v.doubles("box")
            guard box[0] < box[1], box[2] < box[3], box.allSatisfy({ abs($0) < 1e6 }) else {
                throw InvalidParameter("box", "must be x_min,x_max,y_min,y_max with x_min < x_max and y_min < y_max, each within ±10⁶")
            }
        } else {
            guard let name = m.info.dataset, let x = try? datasets.load(name, size: 2000, seed: 0), x.shape.count == 2, x.shape[1] == 2 else {
                throw InvalidParameter("box", "is required: the model's training data is not available to take its box from")
            }
            var lo = [Float.infinity, .infinity], hi = [-Float.infinity, -.infinity]
            for i in 0..<x.shape[0] {
                for j in 0..<2 { let s = x.scalars[2 * i + j]; lo[j] = min(lo[j], s); hi[j] = max(hi[j], s) }
            }
            let pad = (0..<2).map { 0.1 * Double(max(hi[$0] - lo[$0], 1e-3)) }
            box = [Double(lo[0]) - pad[0], Double(hi[0]) + pad[0], Double(lo[1]) - pad[1], Double(hi[1]) + pad[1]]
        }
        let n = v.int("grid")
        // The work is done on the request's thread: bounded by grid points × the network's parameters (about
        // a tenth of a second on one core).
        let parameters = Int(m.info.json["parameter_count"]?.number ?? 0)
        if parameters > 0, n * n * parameters > ModelsController.scoreBudget {
            let most = Int(Double(ModelsController.scoreBudget / parameters).squareRoot())
            throw InvalidParameter("grid", most >= 2 ? "at most \(most) for this model of \(parameters) parameters"
                                                     : "this model of \(parameters) parameters is too large for a score field on request")
        }
        var points: [Float] = []
        points.reserveCapacity(2 * n * n)
        for i in 0..<n {  // rows from y_min up, columns from x_min right
            for j in 0..<n {
                points.append(Float(box[0] + (box[1] - box[0]) * Double(j) / Double(n - 1)))
                points.append(Float(box[2] + (box[3] - box[2]) * Double(i) / Double(n - 1)))
            }
        }
        let x = Tensor(shape: [n * n, 2], scalars: points)
        let s = evaluateScore(m.model, x, Array(repeating: t, count: n * n), tape: Tape())
        func pairs(_ a: [Float]) -> JSONValue { .array(stride(from: 0, to: a.count, by: 2).map { [.number(Double(a[$0])), .number(Double(a[$0 + 1]))] }) }
        var body: [String: JSONValue] = ["model": .string(id), "grid": .number(Double(n)), "box": .array(box.map { .number($0) }),
                                         "perturbation": m.model.schedule.json, "points": pairs(points), "score": pairs(s.scalars)]
        body["t"] = m.model.schedule.perturbation != nil ? .number(t) : .null
        body["sigma"] = sigma.map { .number($0) } ?? .null
        // x_t = m(t)·x₀ + σ(t)·z: with σ, what the page needs to draw the data perturbed to t.
        body["mean_coefficient"] = .number(m.model.schedule.perturbation?.meanCoefficient(t) ?? 1)
        return jsonResponse(200, .object(body))
    }

    func checkpoint(_ id: String) throws -> HTTPResponse {
        _ = try record(id)
        guard let data = try artifacts.read(artifacts.checkpoint(id)) else {
            throw APIError(status: 410, code: "gone", message: "the checkpoint of model \(id) is missing")
        }
        var h = HTTPHeaders()
        h.add("Content-Type", "application/octet-stream")
        h.add("Content-Disposition", "attachment; filename=\"\(id).safetensors\"")
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array(data)))
    }
}
