import Foundation
import HTTPServer
import ScoreEngine

extension Service {
    func loadModel(_ id: String, field: String = "model") throws -> ScoreModel {
        do { return try models.load(id) } catch is ModelCache.Unknown {
            throw APIError(status: 404, code: "not_found", message: "\(field): no model \(id)", field: field)
        }
    }

    /// `GET /samples`: queues a sampling job; by default waits for it and answers with the samples
    /// (`wait=false`: 202 and the job).
    func samples(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try query(req)
        let (params, model, wait) = try samplingParameters(&q, allowed: nil)
        try q.finish()
        _ = model
        return try submitSampling(params, wait: wait, req)
    }

    /// The query parameters every sampling request takes (model, sampler and its parameters, n, seed, format,
    /// grid, wait), as job parameters; `allowed` restricts the samplers.
    func samplingParameters(_ q: inout Fields, allowed: [SamplerSpec.Name]?) throws -> (params: [String: JSONValue], model: ScoreModel, wait: Bool) {
        guard let modelID = try q.string("model") else { throw APIError.invalid("model", "is required (see GET /models)") }
        let model = try loadModel(modelID)
        let supported = SamplerSpec.supported(by: model).filter { allowed?.contains($0) ?? true }
        guard !supported.isEmpty else {
            throw APIError.invalid("model", "this \(model.schedule.name) model supports none of \(allowed!.map(\.rawValue).joined(separator: ", "))")
        }
        let name = try q.string("sampler", allowed: (allowed ?? SamplerSpec.Name.allCases).map(\.rawValue)).flatMap(SamplerSpec.Name.init(rawValue:)) ?? supported[0]
        var spec = SamplerSpec(name: name)
        spec.steps = try q.int("steps", 1...100_000)
        spec.snr = try q.double("snr", 1e-9...10)
        spec.correctorSteps = try q.int("corrector_steps", 1...100)
        spec.predictor = try q.string("predictor", allowed: ["em", "reverse_diffusion"])
        spec.solver = try q.string("solver", allowed: ["rk45", "rk4", "heun", "euler"])
        spec.rtol = try q.double("rtol", 1e-9...0.1)
        spec.atol = try q.double("atol", 1e-9...0.1)
        spec.epsEnd = try q.double("eps_end", 1e-9...0.5)
        spec.stepSize = try q.double("step_size", 1e-12...10)
        spec.initStd = try q.double("init_std", 1e-9...1e4)
        spec.denoise = try q.bool("denoise")
        let images = model.sampleShape.count > 1
        let n = try q.int("n", 1...config.maxSamples, default: images ? 16 : 1000)!
        let seed = try q.int("seed", 0...Int(Int32.max), default: 0)!
        let formats = images ? ["pgm", "json"] : ["json"]
        let format = try q.string("format", allowed: formats) ?? formats[0]
        let grid = try q.bool("grid") ?? false
        if grid && format != "pgm" { throw APIError.invalid("grid", "applies to format pgm") }
        let wait = try q.bool("wait") ?? true
        do { _ = try spec.make(for: model) } catch let e as TrainingRecipe.Invalid { throw APIError.invalid(e.field, e.message) }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let params: [String: JSONValue] = ["model": .string(modelID), "sampler": try JSONValue(parsing: Array(enc.encode(spec))),
                                           "n": .number(Double(n)), "seed": .number(Double(seed)), "format": .string(format), "grid": .bool(grid)]
        return (params, model, wait)
    }

    func submitSampling(_ params: [String: JSONValue], wait: Bool, _ req: HTTPRequest) throws -> HTTPResponse {
        let queued = try submit(.sample, params: .object(params), key: nil)
        guard wait else { return queued }
        guard let id = queued.headers["Location"]?.split(separator: "/").last.map(String.init) else { return queued }
        return try awaitJob(id, req)
    }

    /// `POST /inpaint?model=…&rect=x,y,w,h`: the body is a binary PGM image (optionally gzip-compressed),
    /// optionally followed by a second PGM of the same size as the mask (white, ≥ ½: known; black: to fill);
    /// or `rect` gives the region to fill. Answers n completions by the predictor–corrector inpainter, in
    /// which the known pixels are the image's.
    func inpaint(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try query(req)
        let (params0, model, wait) = try samplingParameters(&q, allowed: [.pc, .em, .reverseDiffusion])
        let rect = try q.intList("rect", 0...4096, count: 4...4)
        try q.finish()
        let shape = model.sampleShape
        guard shape.count == 3, shape[0] == 1 else { throw APIError.invalid("model", "inpainting needs a grey-scale image model") }
        guard !req.body.isEmpty else { throw APIError.invalid("body", "must hold the image as binary PGM") }
        let images: Tensor
        do { images = try ImageCodec.read(req.body, limits: .init(maxImages: 2, maxSide: 4096)) } catch let e as ImageCodec.Invalid {
            throw APIError.invalid("body", e.description)
        }
        guard Array(images.shape.dropFirst()) == shape else {
            throw APIError.invalid("body", "the image is \(images.shape[2])×\(images.shape[3]); the model's are \(shape[1])×\(shape[2])")
        }
        let d = shape.reduce(1, *)
        let image = Array(images.scalars[0..<d])
        var mask: [Float]
        switch (images.shape[0], rect) {
        case (2, nil):
            mask = images.scalars[d..<(2 * d)].map { $0 >= 0.5 ? 1 : 0 }
        case (1, let r?):
            let (x0, y0, w, h) = (r[0], r[1], r[2], r[3])
            guard w >= 1, h >= 1, x0 + w <= shape[2], y0 + h <= shape[1] else {
                throw APIError.invalid("rect", "must be x,y,width,height inside the \(shape[2])×\(shape[1]) image")
            }
            mask = [Float](repeating: 1, count: d)
            for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { mask[y * shape[2] + x] = 0 } }
        case (2, _?): throw APIError.invalid("rect", "give a mask image or rect, not both")
        default: throw APIError.invalid("rect", "is required when the body holds no mask image")
        }
        guard mask.contains(0) else { throw APIError.invalid("rect", "the mask leaves nothing to fill") }
        var params = params0
        params["inpaint"] = ["image": .array(image.map { .number(Double($0)) }), "mask": .array(mask.map { .number(Double($0)) })]
        return try submitSampling(params, wait: wait, req)
    }

    /// Waits for a job to end while the client is connected; cancels it if the client leaves.
    func awaitJob(_ id: String, _ req: HTTPRequest) throws -> HTTPResponse {
        var seen = hub.version(id)
        while true {
            let j = try job(id)
            switch j.status {
            case .succeeded:
                var r = try resultResponse(j)
                r.headers.add("X-Job-Id", id)
                r.headers.add("Content-Location", "/jobs/\(id)/result")
                return r
            case .failed:
                var e = APIError(status: 500, code: "job_failed", message: j.error ?? "the job failed")
                e.headers = [("X-Job-Id", id), ("Location", "/jobs/\(id)")]
                throw e
            case .canceled:
                throw APIError(status: 409, code: "job_canceled", message: "job \(id) was canceled")
            case .queued, .running:
                if stopping.load(ordering: .relaxed) {
                    var e = APIError(status: 503, code: "shutting_down", message: "the service is stopping; job \(id) stays queued")
                    e.headers = [("Location", "/jobs/\(id)"), ("Retry-After", "5")]
                    throw e
                }
                if !req.isClientConnected() {
                    _ = try? runner.cancel(id)
                    throw APIError(status: 499, code: "client_closed", message: "the client left")
                }
                seen = hub.wait(id, after: seen, timeout: 0.5)
            }
        }
    }

    /// A sampling job's stored result, with its media type.
    func resultResponse(_ j: JobRecord) throws -> HTTPResponse {
        let format: String
        if case .string(let f)? = j.params["format"] { format = f } else { format = "json" }
        var h = HTTPHeaders()
        let url: URL
        switch format {
        case "pgm":
            url = artifacts.result(j.id, "pgm.gz")
            h.add("Content-Type", "image/x-portable-graymap")
            h.add("Content-Encoding", "gzip")
        default:
            url = artifacts.result(j.id, "json")
            h.add("Content-Type", "application/json")
        }
        guard let data = artifacts.read(url) else { throw APIError(status: 410, code: "gone", message: "the result of job \(j.id) was deleted") }
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array(data)))
    }

    /// `POST /likelihood`: NLL and bits/dim of n points of a data set under a model (a job).
    func likelihood(_ req: HTTPRequest) throws -> HTTPResponse {
        var f = try Fields(json: try jsonBody(req))
        guard let modelID = try f.string("model") else { throw APIError.invalid("model", "is required") }
        let model = try loadModel(modelID)
        guard model.schedule.sde != nil else {
            throw APIError.invalid("model", "the likelihood needs a model trained on an SDE (ve, vp, subvp); this one is \(model.schedule.name)")
        }
        let info = try store.model(modelID)?.info
        var trainedOn = "swiss_roll"
        if case .string(let s)? = info?["dataset"] { trainedOn = s }
        let dataset = try f.string("dataset") ?? trainedOn
        guard try datasets.exists(dataset) else { throw APIError.invalid("dataset", "unknown data set \(dataset)") }
        let shape = try datasets.itemShape(dataset) ?? []
        guard shape == model.sampleShape else {
            throw APIError.invalid("dataset", "\(dataset) holds items of shape \(shape), the model \(model.sampleShape)")
        }
        let d = model.sampleShape.reduce(1, *)
        let n = try f.int("n", 1...100_000, default: d > 64 ? 64 : 500)!
        let seed = try f.int("seed", 0...Int(Int32.max), default: 0)!
        let divergence = try f.string("divergence", allowed: ["exact", "hutchinson"]) ?? (d <= LikelihoodEstimator.maxExactDimension ? "exact" : "hutchinson")
        if divergence == "exact" && d > LikelihoodEstimator.maxExactDimension {
            throw APIError.invalid("divergence", "exact needs dimension ≤ \(LikelihoodEstimator.maxExactDimension); use hutchinson")
        }
        let probe = try f.string("probe", allowed: Probe.allCases.map(\.rawValue)) ?? "rademacher"
        let rtol = try f.double("rtol", 1e-9...0.1, default: 1e-5)!
        let atol = try f.double("atol", 1e-9...0.1, default: 1e-5)!
        try f.finish()
        let params: JSONValue = ["model": .string(modelID), "dataset": .string(dataset), "n": .number(Double(n)),
                                 "seed": .number(Double(seed)), "divergence": .string(divergence), "probe": .string(probe),
                                 "rtol": .number(rtol), "atol": .number(atol)]
        return try submit(.likelihood, params: params, key: try idempotencyKey(req))
    }
}
