import Foundation
import ScoreEngine

/// A sampling job, ready to run: what it samples, the sampler built from resolved parameters. A request
/// prepares it (and the job uses it as it is); after a restart the job prepares it from its stored parameters.
struct PreparedSampling: Sendable {
    /// The parameters with the sampler's settings resolved (every one that applies, defaults filled in).
    let parameters: SamplingJobParameters
    let source: any ScoreSource
    /// The classifier guiding the samples toward their labels, if any.
    let classifier: ScoreModel?
    let sampler: any Sampler
    /// Where the groups of a streamed request go as they finish (in memory only: after a restart the job runs
    /// without its client).
    var stream: SampleStream? = nil

    /// Builds the sampler from resolved settings, with the known values of an inpainting request.
    init(parameters p: SamplingJobParameters, values: ParameterValues, source: any ScoreSource, classifier: ScoreModel? = nil) throws {
        guard let entry = SamplerRegistry.entry(p.sampler) else { throw InvalidParameter("sampler", "unknown sampler \(p.sampler)") }
        var sampler = entry.make(values, source)
        if let known = p.inpaint {
            guard let s = sampler as? any InpaintingSampler else {
                throw InvalidParameter("sampler", "\(p.sampler) cannot inpaint (use one of \(SamplerRegistry.inpainters(for: source).joined(separator: ", ")))")
            }
            let d = source.sampleShape.reduce(1, *), items = known.items ?? 1
            if known.colorize == true {
                let shape = source.sampleShape
                guard shape.count == 3, shape[0] == 3 else { throw InvalidParameter("model", "colorization needs a colour image model (3 channels)") }
                guard known.image.count == shape[1] * shape[2] else {
                    throw InvalidParameter("body", "colorization takes a grey image of the model's size, \(shape[2])×\(shape[1])")
                }
                sampler = s.inpainting(Inpainting.colorization(grey: Tensor(shape: [1, shape[1], shape[2]], scalars: known.image)))
            } else {
            guard known.image.count == known.mask.count, known.image.count == items * d else {
                if let n = known.items, n > 0 {
                    throw InvalidParameter("body", "the points have \(known.image.count / n) coordinates, the model's items \(source.sampleShape)")
                }
                throw InvalidParameter("body", "the image (and its mask) must have the model's shape \(source.sampleShape) (channels, height, width): \(source.sampleShape[0] == 3 ? "a colour image, PPM or PNG" : "a grey image, PGM or PNG")")
            }
            if known.items == nil {
                sampler = s.inpainting(Inpainting(data: Tensor(shape: source.sampleShape, scalars: known.image),
                                                  mask: Tensor(shape: source.sampleShape, scalars: known.mask)))
            } else {
                sampler = s.inpainting(Inpainting.repeated(values: Tensor(shape: [items] + source.sampleShape, scalars: known.image),
                                                           mask: Tensor(shape: [items] + source.sampleShape, scalars: known.mask), times: p.n))
            }
            }
        }
        if let latents = p.latents {
            guard let ode = sampler as? ProbabilityFlowODESampler else { throw InvalidParameter("sampler", "latents are decoded by the ode sampler") }
            let d = source.sampleShape.reduce(1, *)
            guard latents.count == p.n * d else { throw InvalidParameter("latent", "each latent must hold the model's \(d) values (\(p.n) latents)") }
            sampler = ode.decoding(Tensor(shape: [p.n] + source.sampleShape, scalars: latents))
        }
        var resolved = p
        resolved.parameters = values.json
        parameters = resolved
        self.source = source
        self.sampler = sampler
        if p.labels != nil {
            guard let classifier else { throw InvalidParameter("classifier", "the job's classifier \(p.classifier ?? "") is missing") }
            try SamplingRequest.check(classifier: classifier, field: "classifier", against: source)
            self.classifier = classifier
        } else {
            self.classifier = nil
        }
    }

    /// What the sampler follows: `base` (the source's score, or that score evaluated through the lane's shared
    /// evaluations), guided by the classifier toward each row's label when there are labels.
    func score(over base: any ScoreFunction, classifier shared: (any NoiseConditionalClassifier)? = nil) -> any ScoreFunction {
        guard let labels = parameters.labels, let classifier = shared ?? classifier else { return base }
        return GuidedScore.perLabel(base: base, classifier: classifier, labels: labels, perLabel: parameters.n, scale: parameters.guidance ?? 1)
    }

    /// From stored parameters: the model (or target) loaded, the settings resolved again against it.
    static func prepare(_ p: SamplingJobParameters, models: ModelCache) throws -> PreparedSampling {
        let source: any ScoreSource
        if let id = p.model {
            source = try models.load(id).model
        } else if let name = p.target, let t = AnalyticTarget.named(name) {
            source = t
        } else {
            throw InvalidParameter("model", "the job names no model or target")
        }
        guard let entry = SamplerRegistry.entry(p.sampler) else { throw InvalidParameter("sampler", "unknown sampler \(p.sampler)") }
        let values = try entry.resolve((p.parameters.object ?? [:]).mapValues { .json($0) }, for: source)
        let classifier = try p.classifier.map { try models.load($0).model }
        return try PreparedSampling(parameters: p, values: values, source: source, classifier: classifier)
    }
}

/// Runs a sampling job: the rows split over the lane's threads, progress reported as they advance, the result
/// encoded as asked and kept (file and memory) for the client.
struct SamplingJob: JobExecutor {
    func run(_ job: JobRecord, _ context: JobContext) throws -> JobOutcome {
        let prepared = try (context.prepared as? PreparedSampling)
            ?? PreparedSampling.prepare(try SamplingJobParameters(json: job.params), models: context.models)
        do {
            let (outcome, header) = try sample(job, prepared, context)
            prepared.stream?.finish(.success(header))
            return outcome
        } catch {
            prepared.stream?.finish(.failure(error))
            throw error
        }
    }

    func sample(_ job: JobRecord, _ prepared: PreparedSampling, _ context: JobContext) throws -> (JobOutcome, [String: JSONValue]) {
        let p = prepared.parameters, shape = prepared.source.sampleShape
        let started = Date()
        let live = context.live
        let control = SamplingControl(totalRows: p.rows, previewEvery: p.previewEvery ?? 0, onProgress: { f in
            let elapsed = Date().timeIntervalSince(started)
            context.report(JobProgress(step: Int((f * 1000).rounded()), total: 1000, rate: nil,
                                       etaSeconds: f > 0.01 ? elapsed * (1 - f) / f : nil))
        }, onPreview: { preview in
            let body = SamplingJob.previewJSON(preview, kind: DataKind(itemShape: shape))
            live.preview.withLock { $0 = (($0?.number ?? 0) + 1, body) }
            context.hub.changed(live.id)
        })
        live.control.withLock { $0 = control }
        if live.shouldStop { throw CancelledError() }
        let stream = prepared.stream
        let run = SamplingRun(sampler: prepared.sampler, count: p.rows, seed: UInt64(p.seed), shape: shape, threads: context.threads,
                              streamed: stream != nil)
        var onChunk: (@Sendable (Range<Int>, SampleBatch) -> Void)? = nil
        if let stream { onChunk = { rows, batch in stream.push(rows, batch.x) } }
        // A stored model's evaluations go through the lane's shared evaluations, batched with those of other jobs
        // sampling the same model at the same time; so do the classifier's gradients of guided jobs.
        let shared = p.model.map {
            SharedScore(prepared.source, network: $0, pool: context.evaluations, itemShape: shape, isCancelled: { control.isCancelled })
        }
        var sharedClassifier: SharedClassifier? = nil
        if let id = p.classifier, let classifier = prepared.classifier {
            sharedClassifier = SharedClassifier(classifier, network: id, pool: context.evaluations, itemShape: shape,
                                                isCancelled: { control.isCancelled })
        }
        let score = prepared.score(over: shared ?? prepared.source, classifier: sharedClassifier)
        let out = try run.run(score, shape: shape, control: control, onChunk: onChunk)
        let seconds = Date().timeIntervalSince(started)
        var header = SampleEncoding.header(sampler: p.sampler, parameters: p.parameters, n: p.rows, seed: p.seed, nfe: out.nfe,
                                           seconds: seconds, shape: shape)
        if let items = p.inpaint?.items { header["n_per_point"] = .number(Double(p.n)); header["items"] = .number(Double(items)) }
        if let labels = p.labels, let classifier = p.classifier {
            header.merge(SampleEncoding.guidanceHeader(classifier: classifier, labels: labels, perLabel: p.n, guidance: p.guidance ?? 1)) { _, b in b }
        }
        header["model"] = p.model.map { .string($0) } ?? .null
        if let target = p.target { header["target"] = .string(target) }
        if let preset = p.preset { header["preset"] = .string(preset) }
        if shared != nil || sharedClassifier != nil {
            header["shared_evaluations"] = .number(Double((shared?.tallies.shared ?? 0) + (sharedClassifier?.tallies.shared ?? 0)))
        }
        let bytes: [UInt8]
        if SampleEncoding.isImage(p.format) {
            let image = try SampleEncoding.image(out.x, format: p.format, grid: p.grid, columns: p.labels != nil ? p.n : nil)
            bytes = SampleResult.isGzipped(p.format) ? Gzip.compress(image) : image
        } else {
            bytes = SampleEncoding.json(out.x, header: header)
        }
        try context.results.store(SampleResult(bytes: bytes, format: p.format), job: job.id, fence: context.fence)
        var result = header
        result["format"] = .string(p.format)
        result["result"] = .string("/jobs/\(job.id)/result")
        return (.succeeded(.object(result)), header)
    }

    /// A preview event's body: for images the denoised estimate (else the state) of up to 16 samples as a PNG
    /// grid at twice its size, base64; for points up to 500 current positions.
    static func previewJSON(_ p: SamplingPreview, kind: DataKind) -> JSONValue {
        var o: [String: JSONValue] = ["step": .number(Double(p.step)), "total": .number(Double(p.total))]
        let x = p.denoised ?? p.x
        if kind == .images, x.rank == 4, x.shape[1] == 1 || x.shape[1] == 3 {
            let shown = x.rows(0..<min(16, x.shape[0]))
            o["png"] = .string(Data(PNG.grid(shown, scale: 2)).base64EncodedString())
            o["denoised"] = .bool(p.denoised != nil)
        } else {
            let rows = p.x.rows(0..<min(500, p.x.shape[0]))
            o["points"] = (try? JSONValue(parsing: PointCloud.json(rows.reshaped([rows.shape[0], rows.count / max(rows.shape[0], 1)])))) ?? .null
        }
        return .object(o)
    }
}
