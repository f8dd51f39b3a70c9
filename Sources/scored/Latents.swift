import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode items as latents by the probability-flow ODE, as POST /encode does: each one's latent x(T) and log-likelihood.",
        discussion: "--items: points as .json or .csv, images as PGM or IDX (optionally .gz). The answer is a JSON document with `latent` rows, which `scored decode` takes back.")

    @Option(help: "Checkpoint of a score model trained on an SDE.") var model: String
    @Option(help: "The items to encode.") var items: String
    @Option(help: "exact (up to 64 dimensions) or hutchinson.") var divergence: String?
    @Option(help: "Relative and absolute tolerance of the ODE solver.") var tolerance = 1e-5
    @OptionGroup var output: OutputOptions

    func run() throws {
        let (model, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: self.model)))
        guard !model.isClassifier, let sde = model.schedule.sde else { throw ValidationError("latents need a score model trained on an SDE") }
        let x = try DataFormat(fileName: items).read(Array(try Data(contentsOf: URL(fileURLWithPath: items))), imageLimits: .init(maxImages: 1000, maxSide: 128))
        guard Array(x.shape.dropFirst()) == model.sampleShape else {
            throw InvalidParameter("items", "hold items of shape \(Array(x.shape.dropFirst())), the model's are \(model.sampleShape)")
        }
        guard (1e-9...0.1).contains(tolerance) else { throw InvalidParameter("tolerance", "must be between 1e-9 and 0.1") }
        let d = model.sampleShape.reduce(1, *)
        let name = divergence ?? (d <= LikelihoodEstimator.maxExactDimension ? "exact" : "hutchinson")
        guard name == "hutchinson" || (name == "exact" && d <= LikelihoodEstimator.maxExactDimension) else {
            throw InvalidParameter("divergence", "must be exact (dimension ≤ \(LikelihoodEstimator.maxExactDimension)) or hutchinson")
        }
        let estimator = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: tolerance, atol: tolerance)),
                                            divergence: name == "exact" ? .exact : .hutchinson(.rademacher))
        let n = x.shape[0], started = Date()
        let parts = try RowParallel.map(count: n, chunkSize: RowParallel.chunkSize(itemShape: model.sampleShape, count: n, threads: output.threads),
                                        threads: output.threads, control: nil) { rows in
            try estimator.logLikelihood(model, x.rows(rows), seed: 0, first: rows.lowerBound)
        }
        let logp = parts.flatMap(\.logLikelihood)
        let bpd = LikelihoodEstimator.Result(logLikelihood: logp, latent: .zeros([0]), nfe: 0).bitsPerDimension(dimension: d)
        let header: [String: JSONValue] = [
            "model": .string(self.model), "n": .number(Double(n)), "dimension": .number(Double(d)), "divergence": .string(name),
            "nfe": .number(Double(parts.map(\.nfe).max() ?? 0)), "seconds": .number((Date().timeIntervalSince(started) * 100).rounded() / 100),
            "nll_nats": .array(logp.map { .number(-$0) }), "bits_per_dim": .array(bpd.map { .number($0) }),
            "shape": .array(model.sampleShape.map { .number(Double($0)) }),
        ]
        let body = SampleEncoding.json(Tensor.concatenateRows(parts.map(\.latent)), header: header, key: "latent")
        try output.write(body)
        note(String(format: "encoded %d items (mean %.3f bits/dim, %.2f s)", n, bpd.reduce(0, +) / Double(n), Date().timeIntervalSince(started)))
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode latents by the probability-flow ODE, as POST /decode does (or interpolate between two of them).",
        discussion: "--latents: a JSON document with `latent` rows (what `scored encode` writes). With --interpolate A,B the rows A and B are joined by --n latents along the great circle, which are decoded instead. The output is that of `scored sample` (--format json, pgm, ppm or png).")

    @Option(help: "Checkpoint of the score model that encoded them.") var model: String
    @Option(help: "JSON document with `latent` rows.") var latents: String
    @Option(help: "Two row indices A,B: decode the spherical interpolation between them.") var interpolate: String?
    @Option(help: "Latents along the interpolation (with --interpolate).") var n = 8
    @Option(help: "Relative and absolute tolerance of the ODE solver.") var tolerance = 1e-5
    @Option(help: "json; images: pgm (grey), ppm (colour) or png (default: the first of these that fits).") var format: String?
    @Flag(help: "PGM, PPM: one tiled image (PNG is always the grid).") var grid = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let (model, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: self.model)))
        guard !model.isClassifier, model.schedule.sde != nil else { throw ValidationError("latents need a score model trained on an SDE") }
        let doc = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: latents))))
        guard let rows = doc["latent"]?.array, !rows.isEmpty else { throw InvalidParameter("latents", "the document has no `latent` rows") }
        let d = model.sampleShape.reduce(1, *)
        var z = try rows.enumerated().map { i, r -> [Float] in
            guard let a = r.array, a.count == d, a.allSatisfy({ $0.number?.isFinite ?? false }) else {
                throw InvalidParameter("latents", "row \(i) is not \(d) finite numbers")
            }
            return a.map { Float($0.number!) }
        }
        if let pair = interpolate {
            let ab = pair.split(separator: ",").compactMap { Int($0) }
            guard ab.count == 2, ab.allSatisfy({ (0..<z.count).contains($0) }) else { throw InvalidParameter("interpolate", "must be two row indices below \(z.count)") }
            guard (2...256).contains(n) else { throw InvalidParameter("n", "must be between 2 and 256") }
            let path = LatentCodes.slerp(z[ab[0]], z[ab[1]], count: n)
            z = (0..<n).map { Array(path.scalars[($0 * d)..<(($0 + 1) * d)]) }
        }
        guard (1e-9...0.1).contains(tolerance) else { throw InvalidParameter("tolerance", "must be between 1e-9 and 0.1") }
        let formats = SampleEncoding.formats(for: model.sampleShape)
        let format = self.format ?? formats[0]
        guard formats.contains(format) else { throw InvalidParameter("format", "must be one of \(formats.joined(separator: ", "))") }
        let sampler = ProbabilityFlowODESampler(sde: model.schedule.sde!, solver: ODESolver(method: .adaptive(rtol: tolerance, atol: tolerance)),
                                                epsilon: LikelihoodEstimator.defaultEpsilon)
            .decoding(Tensor(shape: [z.count] + model.sampleShape, scalars: z.flatMap { $0 }))
        let started = Date()
        let result = try SamplingRun(sampler: sampler, count: z.count, seed: 0, shape: model.sampleShape, threads: output.threads).run(model, shape: model.sampleShape)
        let seconds = Date().timeIntervalSince(started)
        let bytes = SampleEncoding.isImage(format) ? try SampleEncoding.image(result.x, format: format, grid: grid)
            : SampleEncoding.json(result.x, header: SampleEncoding.header(sampler: "ode", parameters: ["rtol": .number(tolerance), "atol": .number(tolerance)],
                                                                          n: z.count, seed: 0, nfe: result.nfe, seconds: seconds, shape: model.sampleShape))
        try output.write(bytes)
        note(String(format: "decoded %d latents (NFE %d, %.2f s)", z.count, result.nfe, seconds))
    }
}
