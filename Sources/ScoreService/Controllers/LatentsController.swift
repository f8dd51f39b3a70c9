import Foundation
import HTTPServer
import ScoreEngine

/// Latent codes by the probability-flow ODE: `POST /encode` (a likelihood job on the items sent, with each
/// one's latent), `POST /decode` and `GET|POST /interpolate` (sampling jobs of the ode sampler started from
/// given latents). Decoding goes through the sampling path of `SamplesController` (formats, grids, waiting).
struct LatentsController: RouteCollection {
    let samples: SamplesController
    let models: ModelCache
    let submitter: JobSubmitter

    func register(on r: Router) {
        let max = samples.maxSamples
        r.add("POST", "/encode", query: { LatentsController.encodeParameters }, idempotent: true) { req, _ in try await encode(req) }
        r.add("POST", "/decode", query: { LatentsController.decodeParameters(maxSamples: max) }, idempotent: true) { req, _ in try await decode(req) }
        r.add("GET", "/interpolate", access: .scope(.submit), query: {
            LatentsController.decodeParameters(maxSamples: max) + LatentsController.interpolationParameters + LatentsController.encodedParameters
        }) { req, _ in
            try await interpolate(req, body: nil)
        }
        r.add("POST", "/interpolate", query: { LatentsController.decodeParameters(maxSamples: max) + [LatentsController.interpolationParameters[2]] },
              idempotent: true) { req, _ in
            try await interpolate(req, body: try req.jsonBody())
        }
    }

    /// Latents decoded at once, at most.
    static let maxLatents = 1000

    /// The query of `POST /decode` and `/interpolate`: the model, the answer's encoding, the ODE's settings.
    static func decodeParameters(maxSamples: Int) -> [Parameter] {
        let request = SamplingRequest.parameters(maxSamples: maxSamples).filter { ["format", "grid"].contains($0.key) }
        let ode = ProbabilityFlowODESampler.entry.parameters.filter { ["solver", "rtol", "atol", "steps"].contains($0.key) }
        return [SamplesController.subjectParameters[0]] + request + ode + [SamplesController.deliveryParameters[0]]
    }

    static let interpolationParameters: [Parameter] = [
        Parameter("a", .numberList(count: 1...64), default: .none("required, unless encoded is given"),
                  help: "the first latent, comma-separated (points; images: POST a JSON body, or name an encode job)"),
        Parameter("b", .numberList(count: 1...64), default: .none("required, unless encoded is given"), help: "the second latent"),
        Parameter("n", .integer(2...256), default: .value(8), help: "latents along the great circle from a to b, both included"),
    ]

    /// Two encoded inputs as the ends: an encode job's items (`POST /encode?wait=false` with both, then this).
    static let encodedParameters: [Parameter] = [
        Parameter("encoded", .text(maxLength: 100), default: .none("none: a and b are given"),
                  help: "a succeeded encode job (POST /encode) of this model: two of its items' latents are the ends, instead of a and b"),
        Parameter("items", .integerList(0...(maxLatents - 1), count: 2...2), default: .value([0, 1]),
                  help: "with encoded: the two items of the encode job, by position"),
    ]

    static let encodeParameters: [Parameter] = [
        .required("model", .text(maxLength: 100), help: "the model's id (trained on an SDE)"),
        Parameter("divergence", .choice(["exact", "hutchinson"]), default: .none("exact up to 64 dimensions, else hutchinson"),
                  help: "how ∇·s is computed for the bits/dim"),
        Parameter("rtol", .number(.closed(1e-9, 0.1)), default: .value(1e-5), help: "relative tolerance of the ODE solver"),
        Parameter("atol", .number(.closed(1e-9, 0.1)), default: .value(1e-5), help: "absolute tolerance of the ODE solver"),
        Parameter("seed", .integer(0...Int(Int32.max)), default: .value(0), help: "seed of Hutchinson's probes"),
        Parameter("wait", .boolean, default: .value(true), help: "answer with the latents when the job ends (false: 202 and the job)"),
    ]

    /// `POST /decode?model=…`: the body `{"latent": [[…], …]}` (latents x(T), as `POST /encode` gives them) is
    /// carried by the probability-flow ODE back to the data; answered as `GET /samples` answers.
    func decode(_ req: HTTPRequest) async throws -> HTTPResponse {
        let body = try req.jsonBody()
        guard let o = body.object, o.keys.allSatisfy({ $0 == "latent" }), let rows = o["latent"]?.array else {
            throw InvalidParameter("latent", "the body must be {\"latent\": [[…], …]}: the latents, one array of numbers each")
        }
        let latents = try rows.enumerated().map { i, r -> [Float] in
            guard let a = r.array, !a.isEmpty else { throw InvalidParameter("latent", "latent \(i) is not an array of numbers") }
            return try a.map { v -> Float in
                guard let x = v.number, x.isFinite, abs(x) <= 1e30 else { throw InvalidParameter("latent", "latent \(i) holds a value that is not a finite number") }
                return Float(x)
            }
        }
        return try await decodeLatents(req, latents)
    }

    /// `GET /interpolate?model=…&a=…&b=…&n=8` (or `POST` with `{"a": […], "b": […]}`): n latents along the great
    /// circle from a to b, decoded.
    func interpolate(_ req: HTTPRequest, body: JSONValue?) async throws -> HTTPResponse {
        var q = try req.fields()
        var ab: [[Float]]
        if let body {
            var f = try Fields(json: body)
            let v = try f.take([Parameter.required("a", .numberList(count: 1...1_000_000), help: "the first latent"),
                                Parameter.required("b", .numberList(count: 1...1_000_000), help: "the second latent")])
            try f.finish()
            ab = [v.doubles("a").map(Float.init), v.doubles("b").map(Float.init)]
        } else {
            let v = try q.take(Array(LatentsController.interpolationParameters.prefix(2)))
            let itemsSent = q["items"] != nil
            let e = try q.take(LatentsController.encodedParameters)
            if let job = e["encoded"]?.string {
                for key in ["a", "b"] where v.has(key) { throw InvalidParameter.doesNotApply(key, "does not apply with encoded (the encode job's latents are the ends)") }
                let named = try q["model"].map { try SamplesController.subjectParameters[0].parse($0).string ?? "" }
                let (latents, made) = try encodedLatents(job, items: e.ints("items"), model: named)
                ab = latents
                // Decoded by the model that encoded them.
                if named == nil, let made { q = Fields(q.values.merging(["model": .text(made)]) { a, _ in a }) }
            } else {
                if itemsSent { throw InvalidParameter.doesNotApply("items", "applies with encoded only") }
                guard v.has("a"), v.has("b") else { throw InvalidParameter(v.has("a") ? "b" : "a", "is required: a latent, comma-separated (or encoded: an encode job)") }
                ab = [v.doubles("a").map(Float.init), v.doubles("b").map(Float.init)]
            }
        }
        let n = try q.take([LatentsController.interpolationParameters[2]]).int("n")
        guard ab[0].count == ab[1].count else { throw InvalidParameter("b", "has \(ab[1].count) values, a has \(ab[0].count)") }
        // The latents' size checked against the model's before any work.
        var modelID: String? = nil
        if let raw = q["model"] { modelID = try SamplesController.subjectParameters[0].parse(raw).string }
        let model: LoadedModel
        do {
            guard let m = try modelID.map({ try models.load($0) }) ?? models.latest() else {
                throw InvalidParameter("model", "is required: no model has been trained yet (POST /train)")
            }
            model = m
        } catch is ModelCache.Unknown {
            throw APIError(status: 404, code: "not_found", message: "model: no model \(modelID ?? "")", field: "model")
        }
        guard ab[0].count == model.model.sampleShape.reduce(1, *) else {
            throw InvalidParameter("a", "has \(ab[0].count) values, the model's items \(model.model.sampleShape.reduce(1, *))")
        }
        let path = LatentCodes.slerp(ab[0], ab[1], count: n)
        let d = ab[0].count
        return try await decodeLatents(req, (0..<n).map { Array(path.scalars[($0 * d)..<(($0 + 1) * d)]) }, fields: q)
    }

    /// Two items' latents from a succeeded encode job the caller may see, made with `model` when one is named;
    /// with the model that made them.
    func encodedLatents(_ id: String, items: [Int], model: String?) throws -> (latents: [[Float]], model: String?) {
        guard let j = try samples.store.job(id), Caller.current.sees(j.owner) else {
            throw APIError(status: 404, code: "not_found", message: "encoded: no job \(id)", field: "encoded")
        }
        guard j.kind == .likelihood, j.params["items"] != nil else { throw InvalidParameter("encoded", "job \(id) is not an encode job (POST /encode)") }
        guard j.status == .succeeded else { throw InvalidParameter("encoded", "job \(id) is \(j.status.rawValue), not succeeded") }
        if let model, let made = j.params["model"]?.string, made != model {
            throw InvalidParameter("encoded", "job \(id) encoded with model \(made), not \(model)")
        }
        guard let r = try samples.results.result(job: id, format: "json") else {
            throw APIError(status: 410, code: "gone", message: "encoded: the result of job \(id) was deleted", field: "encoded")
        }
        guard let doc = try? JSONValue(parsing: r.bytes), let rows = doc["latent"]?.array else {
            throw APIError(status: 500, code: "corrupt_result", message: "encoded: the result of job \(id) holds no latents", field: "encoded")
        }
        let latents = try items.map { i -> [Float] in
            guard i < rows.count, let row = rows[i].array else { throw InvalidParameter("items", "job \(id) encoded \(rows.count) items; there is no item \(i)") }
            return try row.map { v -> Float in
                guard let x = v.number, x.isFinite, abs(x) <= 1e30 else {
                    throw InvalidParameter("encoded", "item \(i) of job \(id) has a latent that is not a finite number")
                }
                return Float(x)
            }
        }
        return (latents, j.params["model"]?.string)
    }

    func decodeLatents(_ req: HTTPRequest, _ latents: [[Float]], fields: Fields? = nil) async throws -> HTTPResponse {
        var q = try fields ?? req.fields()
        guard !latents.isEmpty else { throw InvalidParameter("latent", "has no latents") }
        guard latents.count <= LatentsController.maxLatents else { throw InvalidParameter("latent", "more than \(LatentsController.maxLatents) latents") }
        for key in ["sampler", "n", "seed", "classifier", "label", "guidance", "stream", "preview_every", "eps_end", "denoise", "target", "preset"] where q[key] != nil {
            throw InvalidParameter.doesNotApply(key, "does not apply to decoding (the ode sampler, one sample per latent)")
        }
        // To the encoder's ε, so that decoding an encoding returns the input (within the solver's tolerance).
        q = Fields(q.values.merging(["sampler": .text("ode"), "n": .text(String(latents.count)),
                                     "eps_end": .text(String(LikelihoodEstimator.defaultEpsilon))]) { a, _ in a })
        let (prepared, delivery) = try samples.prepare(&q, inpaint: nil, latents: latents.flatMap { $0 })
        try q.finish()
        let d = prepared.source.sampleShape.reduce(1, *)
        if let bad = latents.firstIndex(where: { $0.count != d }) {
            throw InvalidParameter("latent", "latent \(bad) has \(latents[bad].count) values, the model's items \(d)")
        }
        return try await samples.submit(prepared, delivery, req)
    }

    /// `POST /encode?model=…`: points (JSON or CSV) or images (PGM, PPM, PNG or IDX, gzip or not) in the body, carried by the
    /// probability-flow ODE from ε to T: each one's latent x(T) and its log-likelihood (nats and bits/dim of the
    /// input as given, a density: no dequantisation). `POST /decode` takes the latents back.
    func encode(_ req: HTTPRequest) async throws -> HTTPResponse {
        var q = try req.fields()
        let v = try q.take(LatentsController.encodeParameters)
        try q.finish()
        let modelID = v.string("model")
        let loaded = try samples.scoreModelOnSDE(modelID, for: "latents")
        let model = loaded.model
        guard !req.body.isEmpty else { throw InvalidParameter("body", "is empty: send the items to encode") }
        let format = DataFormat(mediaType: req.headers["Content-Type"] ?? "application/json") ?? .json
        let x: Tensor
        do { x = try format.read(req.body, imageLimits: .init(maxImages: 64, maxSide: 128)) } catch let e as PointCloud.Invalid {
            throw InvalidParameter("body", e.description)
        } catch let e as ImageCodec.Invalid {
            throw InvalidParameter("body", e.description)
        } catch let e as ImageCodec.TooLarge {
            throw APIError(status: 413, code: "payload_too_large", message: "body: \(e.description)", field: "body")
        }
        guard Array(x.shape.dropFirst()) == model.sampleShape else {
            throw InvalidParameter("body", "holds items of shape \(Array(x.shape.dropFirst())), the model's are \(model.sampleShape)")
        }
        guard x.shape[0] <= LatentsController.maxLatents else { throw InvalidParameter("body", "more than \(LatentsController.maxLatents) items") }
        try Caller.current.checkSamples(x.shape[0], "items encoded")
        let d = model.sampleShape.reduce(1, *)
        let divergence = v["divergence"]?.string ?? (d <= LikelihoodEstimator.maxExactDimension ? "exact" : "hutchinson")
        if divergence == "exact" && d > LikelihoodEstimator.maxExactDimension {
            throw InvalidParameter("divergence", "exact needs dimension ≤ \(LikelihoodEstimator.maxExactDimension); use hutchinson")
        }
        let params = LikelihoodJobParameters(model: modelID, dataset: loaded.info.dataset ?? "", n: x.shape[0], seed: v.int("seed"),
                                             divergence: divergence, probe: "rademacher", rtol: v.double("rtol"), atol: v.double("atol"),
                                             items: x.scalars)
        let queued = try submitter.submit(.likelihood, params: try params.jsonValue, key: try req.idempotencyKey())
        guard v.bool("wait") else { return submitter.accepted(queued) }
        return try await samples.awaitJob(queued.job.id, req, headers: [("X-Job-Id", queued.job.id), ("Content-Location", "/jobs/\(queued.job.id)/result"),
                                                          ("X-Model-Id", modelID)])
    }
}
