import Foundation
import ScoreEngine

/// A sampling job: model, sampler specification, n and seed in `params`; the samples are written to the
/// job's result file (JSON points, or gzip-compressed PGM images).
struct SamplingJob {
    let runner: JobRunner
    let live: RunningJob

    func run(_ job: inout JobRecord) throws -> JobOutcome {
        guard case .string(let modelID)? = job.params["model"], case .number(let n)? = job.params["n"],
              case .number(let seed)? = job.params["seed"], let specJSON = job.params["sampler"] else {
            return .failed("malformed sampling parameters")
        }
        let model = try runner.models.load(modelID)
        let spec = try JSONDecoder().decode(SamplerSpec.self, from: Data(specJSON.serialized.utf8))
        var sampler = try spec.make(for: model)
        if case .object(let o)? = job.params["inpaint"], case .array(let img)? = o["image"], case .array(let m)? = o["mask"] {
            guard var pc = sampler as? PredictorCorrectorSampler, img.count == m.count,
                  img.count == model.sampleShape.reduce(1, *) else { return .failed("malformed inpainting parameters") }
            func floats(_ a: [JSONValue]) -> [Float] { a.map { if case .number(let v) = $0 { return Float(v) }; return 0 } }
            pc.inpainting = Inpainting(data: Tensor(shape: model.sampleShape, scalars: floats(img)),
                                       mask: Tensor(shape: model.sampleShape, scalars: floats(m)))
            sampler = pc
        }
        let count = Int(n)
        let started = Date()
        let control = SamplingControl(totalRows: count) { [runner, live] f in
            let elapsed = Date().timeIntervalSince(started)
            runner.report(live, JobProgress(step: Int((f * 1000).rounded()), total: 1000, rate: nil,
                                            etaSeconds: f > 0.01 ? elapsed * (1 - f) / f : nil))
        }
        live.control.withLock { $0 = SamplingControlBox(control: control) }
        if live.shouldStop { throw CancelledError() }
        let run = SamplingRun(sampler: sampler, count: count, seed: UInt64(seed), chunkSize: chunkSize(model, count: count),
                              threads: runner.config.threads[.sample] ?? 2)
        let out = try run.run(model, shape: model.sampleShape, control: control)
        let seconds = Date().timeIntervalSince(started)
        let format: String
        if case .string(let f)? = job.params["format"] { format = f } else { format = "json" }
        let (bytes, ext) = try SampleEncoding.encode(out.x, format: format, job: job, sampler: sampler, nfe: out.nfe,
                                                     seconds: seconds, model: model)
        try runner.artifacts.write(Data(bytes), to: runner.artifacts.result(job.id, ext))
        return .succeeded(["n": .number(Double(count)), "nfe": .number(Double(out.nfe)),
                           "seconds": .number((seconds * 1000).rounded() / 1000), "sampler": .string(sampler.description),
                           "format": .string(format), "result": .string("/jobs/\(job.id)/result")])
    }

    /// Rows per chunk (a chunk is one batch on one thread): points in chunks of up to 1024; images split
    /// evenly over the threads, at most 32 per chunk (a 28×28 U-Net batch of 32 holds about 60 MB of
    /// activations while the ODE solver's stages are alive).
    func chunkSize(_ model: ScoreModel, count: Int) -> Int {
        guard model.sampleShape.count > 1 else { return 1024 }
        let threads = max(1, runner.config.threads[.sample] ?? 2)
        return max(1, min(32, (count + threads - 1) / threads))
    }
}

/// Turns samples into a result document.
enum SampleEncoding {
    struct Unsupported: Error, CustomStringConvertible { let description: String }

    static func encode(_ x: Tensor, format: String, job: JobRecord, sampler: any Sampler, nfe: Int, seconds: Double,
                       model: ScoreModel) throws -> (bytes: [UInt8], ext: String) {
        switch format {
        case "json":
            var s = "{\"model\":" + (job.params["model"] ?? .null).serialized
            s += ",\"sampler\":" + JSONValue.string(sampler.description).serialized
            s += ",\"params\":" + (job.params["sampler"] ?? .null).serialized
            s += ",\"n\":\(x.shape[0]),\"seed\":" + (job.params["seed"] ?? .null).serialized
            s += ",\"nfe\":\(nfe),\"seconds\":" + JSONValue.format((seconds * 1000).rounded() / 1000)
            s += ",\"shape\":[" + model.sampleShape.map(String.init).joined(separator: ",") + "]"
            s += ",\"points\":" + PointCloud.json(x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])) + "}\n"
            return (Array(s.utf8), "json")
        case "pgm":
            // Binary PGM (P5, 8-bit), n images back to back or one tiled grid, gzip-compressed.
            guard x.rank == 4, x.shape[1] == 1 else { throw Unsupported(description: "format pgm needs grey-scale images") }
            var grid = false
            if case .bool(let g)? = job.params["grid"] { grid = g }
            return (Gzip.compress(grid ? ImageCodec.pgmGrid(x) : ImageCodec.pgm(x)), "pgm.gz")
        default:
            throw Unsupported(description: "format \(format) is not available")
        }
    }
}
