import Foundation
import HTTPServer
import ScoreEngine

/// Sampling and evaluating models: `GET /samples`, the conditional tasks (`POST /inpaint`, `/colorize`,
/// `/impute`), `POST /likelihood`, `GET /samplers`. Latent codes are `LatentsController`'s.
/// A sampling request is resolved here once (the model loaded, the sampler's settings checked and completed,
/// the sampler built) and handed to its job as it is.
struct SamplesController: RouteCollection {
    let store: any RecordStore
    let models: ModelCache
    let datasets: DatasetCatalog
    let submitter: JobSubmitter
    let runner: JobRunner
    let hub: JobHub
    let results: ResultStore
    let maxSamples: Int
    let isStopping: @Sendable () -> Bool

    /// What a sampling request samples.
    static let subjectParameters: [Parameter] = [
        Parameter("model", .text(maxLength: 100), default: .none("the most recently trained score model"), help: "the model's id (GET /models)"),
        Parameter("classifier", .text(maxLength: 100), default: .none("unconditional"),
                  help: "a noise-conditional classifier's id (a model trained with objective classifier on the model's SDE): sample the classes in label"),
        SamplingRequest.targetParameter, SamplingRequest.presetParameter,
    ]

    /// How the answer comes.
    static let deliveryParameters: [Parameter] = [
        Parameter("wait", .boolean, default: .value(true), help: "answer with the samples when the job ends (false: 202 and the job)"),
        Parameter("stream", .boolean, default: .value(false),
                  help: "stream the samples as they are made: NDJSON lines for json, a multipart/mixed body of image parts for pgm, ppm, png; leaving cancels the rest"),
        Parameter("preview_every", .integer(0...100_000), default: .value(0),
                  help: "publish a preview event on the job's event stream every this many steps (0: none): the denoised images as a PNG grid, or the points"),
    ]

    /// Every query parameter of `GET /samples` (the samplers' settings each once), for the OpenAPI description.
    static func queryParameters(maxSamples: Int) -> [Parameter] {
        subjectParameters + SamplingRequest.parameters(maxSamples: maxSamples) + deliveryParameters + SamplerDocumentation.unionParameters()
    }

    /// The query of the conditional tasks (`/inpaint`, `/colorize`): that of `/samples`, with their own default sampler.
    static func conditionalParameters(maxSamples: Int) -> [Parameter] {
        queryParameters(maxSamples: maxSamples).map {
            $0.key == "sampler" ? $0.with(default: .none("\(SamplerRegistry.conditionalDefault), which samples the conditional of the unknown values (the others that can inpaint, every one but langevin on an SDE model, get its mean)")) : $0
        }
    }

    /// `POST /impute`'s query: that of `/samples` without what does not apply to points completed in place.
    static func imputeParameters(maxSamples: Int) -> [Parameter] {
        conditionalParameters(maxSamples: maxSamples).filter { !["classifier", "label", "guidance", "grid", "target"].contains($0.key) }
            .map { $0.key == "n" ? $0.with(default: .value(1)) : $0 }
    }

    static let rectParameter = Parameter(
        "rect", .integerList(0...4096, count: 4...4), default: .none("the mask image in the body"),
        help: "the region to fill, x,y,width,height (or send a mask as a second image in the body: PGM for grey models, PPM for colour)")

    static let likelihoodParameters: [Parameter] = [
        .required("model", .text(maxLength: 100), help: "the model's id (trained on an SDE)"),
        Parameter("dataset", .text(maxLength: 200), default: .none("the data set the model was trained on"), help: "the data set"),
        Parameter("n", .integer(1...100_000), default: .byKind(points: .value(500), images: .value(64)), help: "items evaluated"),
        Parameter("seed", .integer(0...Int(Int32.max)), default: .value(0), help: "seed of the draws, probes and dequantisation"),
        Parameter("divergence", .choice(["exact", "hutchinson"]), default: .none("exact up to 64 dimensions, else hutchinson"),
                  help: "how ∇·s is computed: exactly (one backward pass per dimension) or by Hutchinson's estimator"),
        Parameter("probe", .choice(Probe.allCases.map(\.rawValue)), default: .value("rademacher"), help: "Hutchinson probes"),
        Parameter("rtol", .number(.closed(1e-9, 0.1)), default: .value(1e-5), help: "relative tolerance of the ODE solver"),
        Parameter("atol", .number(.closed(1e-9, 0.1)), default: .value(1e-5), help: "absolute tolerance of the ODE solver"),
    ]

    func register(on r: Router) {
        let max = maxSamples
        r.add("GET", "/samples", access: .scope(.submit), query: { SamplesController.queryParameters(maxSamples: max) }) { req, _ in try await samples(req) }
        r.add("POST", "/inpaint", query: { SamplesController.conditionalParameters(maxSamples: max) + [SamplesController.rectParameter] },
              idempotent: true) { req, _ in
            try await inpaint(req)
        }
        r.add("POST", "/colorize", query: { SamplesController.conditionalParameters(maxSamples: max) }, idempotent: true) { req, _ in try await colorize(req) }
        r.add("POST", "/impute", query: { SamplesController.imputeParameters(maxSamples: max) }, idempotent: true) { req, _ in try await impute(req) }
        r.add("POST", "/likelihood", idempotent: true) { req, _ in try await likelihood(req) }
        r.add("GET", "/samplers", quick: true) { _, _ in jsonResponse(200, ["samplers": .array(SamplerRegistry.all.map(SamplerDocumentation.describe))]) }
    }

    /// `GET /samples`: queues a sampling job; by default waits for it and answers with the samples
    /// (`wait=false`: 202 and the job).
    func samples(_ req: HTTPRequest) async throws -> HTTPResponse {
        var q = try req.fields()
        let (prepared, delivery) = try prepare(&q, inpaint: nil)
        try q.finish()
        return try await submit(prepared, delivery, req)
    }

    /// How the answer is delivered, checked against the request.
    struct Delivery {
        var wait: Bool
        var stream: Bool
        var previewEvery: Int
    }

    /// Resolves a sampling request: the subject, the request's own fields, then the sampler's (the preset's
    /// settings under the sent ones). What remains in `q` was not a sampling field.
    func prepare(_ q: inout Fields, inpaint: InpaintingParameters?, latents: [Float]? = nil) throws -> (PreparedSampling, Delivery) {
        let subject = try q.take(SamplesController.subjectParameters)
        let source: any ScoreSource
        var modelID: String? = nil, target: String? = nil
        var preset = subject["preset"]?.string.flatMap(Presets.named)
        if let name = subject["target"]?.string {
            guard !subject.has("model") else { throw InvalidParameter("target", "give a model or a target, not both") }
            source = AnalyticTarget.named(name)!
            target = name
        } else {
            let loaded: LoadedModel
            if let id = subject["model"]?.string {
                do { loaded = try models.load(id) } catch is ModelCache.Unknown {
                    throw APIError(status: 404, code: "not_found", message: "model: no model \(id)", field: "model")
                }
            } else {
                do {
                    guard let latest = try models.latest() else { throw InvalidParameter("model", "is required: no model has been trained yet (POST /train)") }
                    loaded = latest
                } catch let e as ModelCache.Unknown {
                    throw APIError(status: 404, code: "not_found", message: "model: the most recent model \(e.id) has no checkpoint", field: "model")
                }
            }
            source = loaded.model
            modelID = loaded.id
            if preset == nil { preset = loaded.preset }
        }
        var classifier: ScoreModel? = nil
        if let id = subject["classifier"]?.string {
            do { classifier = try models.load(id).model } catch is ModelCache.Unknown {
                throw APIError(status: 404, code: "not_found", message: "classifier: no model \(id)", field: "classifier")
            }
        }
        // Inpainting without a sampler named: the one that samples the conditional (predictor–corrector).
        if inpaint != nil, q["sampler"] == nil, let name = SamplerRegistry.defaultInpainter(for: source) {
            q = Fields(q.values.merging(["sampler": .text(name)]) { a, _ in a })
        }
        let d = try q.take(SamplesController.deliveryParameters)
        let delivery = Delivery(wait: d.bool("wait"), stream: d.bool("stream"), previewEvery: d.int("preview_every"))
        var rest = q.values
        let request = try SamplingRequest(&rest, source: source, preset: preset, maxSamples: maxSamples, classifier: classifier,
                                          itemsPerRequest: inpaint?.items ?? 1)
        q = Fields(rest)
        try Caller.current.checkSamples(request.rows * (inpaint?.items ?? 1), "samples")
        if delivery.stream {
            guard delivery.wait else { throw InvalidParameter("stream", "needs wait=true: the samples come in the answer") }
            if request.grid { throw InvalidParameter("grid", "does not apply to streamed samples (each group comes as it is made)") }
            // The stream lives in this process: so does the job.
            if (runner.config.workers[.sample] ?? 0) == 0 {
                throw APIError.conflict("this node runs no sampling workers (workers.sample is 0) and streamed samples are made by the node that "
                                        + "answers; ask a node with sampling workers, or leave out stream")
            }
        }
        let params = SamplingJobParameters(model: modelID, target: target, preset: preset?.name, sampler: request.sampler.name,
                                           parameters: request.settings.json, n: request.n, seed: request.seed, format: request.format,
                                           grid: request.grid, inpaint: inpaint, previewEvery: delivery.previewEvery > 0 ? delivery.previewEvery : nil,
                                           stream: delivery.stream ? true : nil, classifier: subject["classifier"]?.string, labels: request.labels,
                                           guidance: request.labels != nil ? request.guidance : nil, latents: latents)
        var prepared = try PreparedSampling(parameters: params, values: request.settings, source: source, classifier: classifier)
        if delivery.stream { prepared.stream = SampleStream() }
        return (prepared, delivery)
    }

    func submit(_ prepared: PreparedSampling, _ delivery: Delivery, _ req: HTTPRequest) async throws -> HTTPResponse {
        // A retried POST with its Idempotency-Key gets the job the first one made (a streamed request's samples go
        // to the connection that asked, so it takes none).
        let key = req.method == "POST" && prepared.stream == nil ? try req.idempotencyKey() : nil
        if req.method == "POST", prepared.stream != nil, req.headers["Idempotency-Key"] != nil {
            throw InvalidParameter.doesNotApply("Idempotency-Key", "does not apply to streamed samples (stream=true)")
        }
        let queued = try submitter.submit(.sample, params: try prepared.parameters.jsonValue, key: key, prepared: prepared,
                                          pinned: prepared.stream != nil)
        guard delivery.wait else { return submitter.accepted(queued) }
        var headers = [("X-Job-Id", queued.job.id), ("Content-Location", "/jobs/\(queued.job.id)/result")]
        if let m = prepared.parameters.model { headers.append(("X-Model-Id", m)) }
        if let stream = prepared.stream { return streamed(queued.job.id, stream, format: prepared.parameters.format, headers: headers) }
        return try await awaitJob(queued.job.id, req, headers: headers)
    }

    /// The samples as they are made, group by group (`StreamFraming`); a client that leaves cancels the job.
    func streamed(_ id: String, _ stream: SampleStream, format: String, headers: [(String, String)]) -> HTTPResponse {
        var h = HTTPHeaders()
        h.add("Content-Type", StreamFraming.contentType(format))
        h.add("Cache-Control", "no-cache")
        for (k, v) in headers where k != "Content-Location" { h.add(k, v) }
        let (runner, isStopping) = (self.runner, self.isStopping)
        return HTTPResponse(status: 200, headers: h, body: .stream { out in
            var taken = 0
            do {
                while true {
                    let (groups, end) = await stream.next(after: taken, timeout: 0.5)
                    for g in groups {
                        try await out.write(try StreamFraming.group(g.rows, g.x, format: format))
                        taken += 1
                    }
                    switch end {
                    case .success(let header)?:
                        try await out.write(StreamFraming.summary(header, format: format))
                        return
                    case .failure(let error)?:
                        let canceled = error is CancelledError
                        try await out.write(StreamFraming.failure(canceled ? "job_canceled" : "job_failed", canceled ? "job \(id) was canceled" : "\(error)", format: format))
                        return
                    case nil:
                        if !out.isConnected { throw CancelledError() }
                        if isStopping() {
                            try await out.write(StreamFraming.failure("shutting_down", "the service is stopping; job \(id) stays queued", format: format))
                            return
                        }
                    }
                }
            } catch {
                _ = try? runner.cancel(id)  // the client left: the rest is not needed
                throw error
            }
        })
    }

    /// `POST /inpaint?model=…&rect=x,y,w,h`: the body is an image (PGM, PPM or PNG, optionally gzip-compressed),
    /// optionally followed by a second PGM/PPM of the same size as the mask (white, ≥ ½: known; black: to fill);
    /// or `rect` gives the region to fill. Answers n completions in which the known pixels are the image's.
    func inpaint(_ req: HTTPRequest) async throws -> HTTPResponse {
        var q = try req.fields()
        let rectValues = try q.take([SamplesController.rectParameter])
        let rect = rectValues["rect"].map { _ in rectValues.ints("rect") }
        guard !req.body.isEmpty else { throw InvalidParameter("body", "must hold the image (PGM, PPM or PNG)") }
        let images = try SamplesController.readImages(req.body, limits: .init(maxImages: 2, maxSide: 1024))
        let shape = Array(images.shape.dropFirst()), d = shape.reduce(1, *)
        let image = Array(images.scalars[0..<d])
        var mask: [Float]
        switch (images.shape[0], rect) {
        case (2, nil):
            mask = images.scalars[d..<(2 * d)].map { $0 >= 0.5 ? 1 : 0 }
        case (1, let r?):
            let (x0, y0, w, h) = (r[0], r[1], r[2], r[3])
            guard w >= 1, h >= 1, x0 + w <= shape[2], y0 + h <= shape[1] else {
                throw InvalidParameter("rect", "must be x,y,width,height inside the \(shape[2])×\(shape[1]) image")
            }
            mask = [Float](repeating: 1, count: d)
            let plane = shape[1] * shape[2]
            for ch in 0..<shape[0] { for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { mask[ch * plane + y * shape[2] + x] = 0 } } }
        case (2, _?): throw InvalidParameter("rect", "give a mask image or rect, not both")
        default: throw InvalidParameter("rect", "is required when the body holds no mask image")
        }
        guard mask.contains(0) else { throw InvalidParameter("rect", "the mask leaves nothing to fill") }
        let (prepared, delivery) = try prepare(&q, inpaint: InpaintingParameters(image: image, mask: mask))
        try q.finish()
        guard prepared.source.sampleShape == shape else {
            throw InvalidParameter("body", "the image is \(shape[2])×\(shape[1]); the model's are \(prepared.source.sampleShape.dropFirst().map(String.init).joined(separator: "×"))")
        }
        return try await submit(prepared, delivery, req)
    }

    /// `POST /colorize?model=…`: the body is one grey image (PGM or PNG, gzip or not; a colour image is taken by
    /// its grey level) of a colour model's size; answers n colour images whose grey level, the mean of their
    /// channels, is the input's (Song et al. 2021, App. I.3).
    func colorize(_ req: HTTPRequest) async throws -> HTTPResponse {
        var q = try req.fields()
        guard !req.body.isEmpty else { throw InvalidParameter("body", "must hold the grey image (PGM, PNG, or a colour one taken by its grey level)") }
        let images = try SamplesController.readImages(req.body, limits: .init(maxImages: 1, maxSide: 1024))
        let c = images.shape[1], hw = images.shape[2] * images.shape[3]
        let grey = (0..<hw).map { p in (0..<c).reduce(Float(0)) { $0 + images.scalars[$1 * hw + p] } / Float(c) }
        let (prepared, delivery) = try prepare(&q, inpaint: InpaintingParameters(image: grey, mask: [], colorize: true))
        try q.finish()
        let shape = prepared.source.sampleShape
        guard shape.count == 3, shape[0] == 3 else { throw InvalidParameter("model", "colorization needs a colour image model (3 channels)") }
        guard shape[1] == images.shape[2], shape[2] == images.shape[3] else {
            throw InvalidParameter("body", "the image is \(images.shape[3])×\(images.shape[2]); the model's are \(shape[2])×\(shape[1])")
        }
        return try await submit(prepared, delivery, req)
    }

    /// Images from a request body, with the decoders' refusals as 400 and too much data as 413.
    static func readImages(_ body: [UInt8], limits: ImageCodec.Limits) throws -> Tensor {
        do { return try ImageCodec.read(body, limits: limits) } catch let e as ImageCodec.Invalid {
            throw InvalidParameter("body", e.description)
        } catch let e as ImageCodec.TooLarge {
            throw APIError(status: 413, code: "payload_too_large", message: "body: \(e.description)", field: "body")
        }
    }

    /// `POST /impute?model=…`: the body is points with unknown coordinates as null (`{"points": [[0.5, null], …]}`
    /// or a bare array); answers n completions of each (default 1), in order, in which the known coordinates
    /// are the ones sent (Song et al. 2021, App. I.2: the inpainting of any data shape).
    func impute(_ req: HTTPRequest) async throws -> HTTPResponse {
        var q = try req.fields()
        _ = try req.jsonBody()  // the media type checked
        let partial: (values: Tensor, mask: Tensor)
        do { partial = try PointCloud.parsePartial(req.body, limits: .init(maxPoints: maxSamples)) } catch let e as PointCloud.Invalid {
            throw InvalidParameter("body", e.description)
        }
        let dimension = partial.values.shape[1], items = partial.values.shape[0]
        if q["n"] == nil { q = Fields(q.values.merging(["n": .text("1")]) { a, _ in a }) }
        let known = InpaintingParameters(image: partial.values.scalars, mask: partial.mask.scalars, items: items)
        let (prepared, delivery) = try prepare(&q, inpaint: known)
        try q.finish()
        guard prepared.source.dataKind == .points else { throw InvalidParameter("model", "imputes points; for images use POST /inpaint") }
        guard [dimension] == prepared.source.sampleShape else {
            throw InvalidParameter("body", "the points have \(dimension) coordinates, the model's \(prepared.source.sampleShape[0])")
        }
        guard prepared.parameters.labels == nil else { throw InvalidParameter("classifier", "does not apply to imputation") }
        guard prepared.parameters.rows <= maxSamples else {
            throw InvalidParameter("n", "\(prepared.parameters.n) completions of each of \(items) points is more than \(maxSamples)")
        }
        return try await submit(prepared, delivery, req)
    }

    /// Waits for a job to end while the client is connected; cancels it if the client leaves, unless the request
    /// carried an Idempotency-Key (its retry is to find the job still going, or its result). The samples come
    /// from memory (`ResultStore`), not back from disk.
    func awaitJob(_ id: String, _ req: HTTPRequest, headers: [(String, String)]) async throws -> HTTPResponse {
        var seen = hub.version(id)
        while true {
            guard let j = try store.job(id) else { throw APIError.notFound("job \(id) was deleted") }
            switch j.status {
            case .succeeded:
                return try JobsController.resultResponse(j, results, headers: headers)
            case .failed:
                var e = APIError(status: 500, code: "job_failed", message: j.error ?? "the job failed")
                e.headers = [("X-Job-Id", id), ("Location", "/jobs/\(id)")]
                throw e
            case .canceled:
                throw APIError(status: 409, code: "job_canceled", message: "job \(id) was canceled")
            case .queued, .running:
                if isStopping() {
                    var e = APIError(status: 503, code: "shutting_down", message: "the service is stopping; job \(id) stays queued")
                    e.headers = [("Location", "/jobs/\(id)"), ("Retry-After", "5")]
                    throw e
                }
                if !req.isClientConnected() {
                    if j.idempotencyKey == nil { _ = try? runner.cancel(id) }
                    throw APIError(status: 499, code: "client_closed", message: "the client left")
                }
                seen = await hub.next(id, after: seen, timeout: 0.5)
            }
        }
    }

    /// A score model trained on an SDE, which `purpose` (the likelihood, latents) needs; 404 if there is none.
    func scoreModelOnSDE(_ id: String, for purpose: String) throws -> LoadedModel {
        let loaded: LoadedModel
        do { loaded = try models.load(id) } catch is ModelCache.Unknown {
            throw APIError(status: 404, code: "not_found", message: "model: no model \(id)", field: "model")
        }
        if loaded.model.isClassifier { throw InvalidParameter("model", "\(id) is a classifier; \(purpose) needs a score model") }
        guard loaded.model.schedule.sde != nil else {
            throw InvalidParameter("model", "\(purpose) needs a model trained on an SDE (\(SDERegistry.names.joined(separator: ", "))); this one is \(loaded.model.schedule.name)")
        }
        return loaded
    }

    /// `POST /likelihood`: NLL and bits/dim of n items of a data set under a model (a job).
    func likelihood(_ req: HTTPRequest) async throws -> HTTPResponse {
        var f = try Fields(json: try req.jsonBody())
        let modelID = try f.take([SamplesController.likelihoodParameters[0]]).string("model")
        let loaded = try scoreModelOnSDE(modelID, for: "the likelihood")
        let model = loaded.model
        let v = try f.take(Array(SamplesController.likelihoodParameters.dropFirst()), kind: model.dataKind)
        try f.finish()
        let dataset = v["dataset"]?.string ?? loaded.info.dataset ?? ""
        guard let shape = try datasets.itemShape(dataset) else { throw InvalidParameter("dataset", "unknown data set \(dataset)") }
        guard shape == model.sampleShape else {
            throw InvalidParameter("dataset", "\(dataset) holds items of shape \(shape), the model \(model.sampleShape)")
        }
        let d = model.sampleShape.reduce(1, *)
        let divergence = v["divergence"]?.string ?? (d <= LikelihoodEstimator.maxExactDimension ? "exact" : "hutchinson")
        if divergence == "exact" && d > LikelihoodEstimator.maxExactDimension {
            throw InvalidParameter("divergence", "exact needs dimension ≤ \(LikelihoodEstimator.maxExactDimension); use hutchinson")
        }
        try Caller.current.checkSamples(v.int("n"), "items evaluated")
        let params = LikelihoodJobParameters(model: modelID, dataset: dataset, n: v.int("n"), seed: v.int("seed"), divergence: divergence,
                                             probe: v.string("probe"), rtol: v.double("rtol"), atol: v.double("atol"))
        return submitter.accepted(try submitter.submit(.likelihood, params: try params.jsonValue, key: try req.idempotencyKey()))
    }
}

/// Samplers described for clients and for the OpenAPI description.
enum SamplerDocumentation {
    /// One sampler: name, summary, the schedules it applies to, its parameters.
    static func describe(_ e: SamplerEntry) -> JSONValue {
        ["name": .string(e.name), "summary": .string(e.summary), "applies_to": .array(e.families.map { .string($0.rawValue) }),
         "parameters": .array(e.parameters.map { $0.describe() })]
    }

    /// Every sampler setting once, its help saying which samplers take it and their defaults.
    static func unionParameters() -> [Parameter] {
        var order: [String] = [], byKey: [String: [(String, Parameter)]] = [:]
        for e in SamplerRegistry.all {
            for p in e.parameters {
                if byKey[p.key] == nil { order.append(p.key) }
                byKey[p.key, default: []].append((e.name, p))
            }
        }
        return order.map { key in
            let uses = byKey[key]!
            let first = uses[0].1
            let help = uses.map { name, p in "\(name): \(p.documentation())" }.joined(separator: "; ")
            return Parameter(key, first.kind, default: .none(""), help: help)
        }
    }
}
