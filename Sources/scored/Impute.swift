import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

struct Impute: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Complete points with unknown coordinates from a point model, as POST /impute does.",
        discussion: """
            --points is a JSON file ({"points": [[0.5, null], …]} or a bare array; null marks a coordinate to impute).
            Each point is completed n times (--n, default 1), in order; the known coordinates are kept exactly.
            The sampling options are those of `scored sample`; every sampler of an SDE model but langevin inpaints; pc,
            the default, samples the conditional, the others get its mean but not its spread.
            """)

    @Option(help: "Checkpoint of a point model.") var model: String
    @Option(help: "JSON file of points with null for unknown coordinates (- for standard input).") var points: String
    @OptionGroup var output: OutputOptions
    @Argument(parsing: .allUnrecognized, help: "Sampling options as --name value.") var options: [String] = []

    func run() throws {
        let (source, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: model)))
        guard source.dataKind == .points else { throw ValidationError("imputation takes a point model") }
        let bytes = points == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: points))
        let maxSamples = try ServiceConfig.load(file: nil).maxSamples
        let partial = try PointCloud.parsePartial(Array(bytes), limits: .init(maxPoints: maxSamples))
        let items = partial.values.shape[0], d = partial.values.shape[1]
        guard [d] == source.sampleShape else { throw InvalidParameter("points", "have \(d) coordinates, the model's \(source.sampleShape[0])") }
        var fields = try CommandLineFields.parse(options)
        if fields["n"] == nil { fields["n"] = .text("1") }
        if fields["sampler"] == nil, let name = SamplerRegistry.defaultInpainter(for: source) { fields["sampler"] = .text(name) }
        let request = try SamplingRequest(&fields, source: source, preset: nil, maxSamples: maxSamples, itemsPerRequest: items)
        if let unknown = fields.keys.sorted().first { throw InvalidParameter.unknown(unknown) }
        guard request.labels == nil else { throw InvalidParameter("label", "does not apply to imputation") }
        guard let sampler = request.sampler.make(request.settings, source) as? any InpaintingSampler else {
            throw InvalidParameter("sampler", "\(request.sampler.name) cannot inpaint (use one of \(SamplerRegistry.inpainters(for: source).joined(separator: ", ")))")
        }
        let rows = items * request.n
        guard rows <= maxSamples else { throw InvalidParameter("n", "\(request.n) completions of each of \(items) points is more than \(maxSamples)") }
        let known = Inpainting.repeated(values: partial.values, mask: partial.mask, times: request.n)
        let started = Date()
        let result = try SamplingRun(sampler: sampler.inpainting(known), count: rows, seed: UInt64(request.seed), shape: [d], threads: output.threads)
            .run(source, shape: [d])
        let seconds = Date().timeIntervalSince(started)
        var header = SampleEncoding.header(sampler: request.sampler.name, parameters: request.settings.json, n: rows, seed: request.seed,
                                           nfe: result.nfe, seconds: seconds, shape: [d])
        header["model"] = .string(model)
        header["items"] = .number(Double(items))
        header["n_per_point"] = .number(Double(request.n))
        let body = SampleEncoding.json(result.x, header: header)
        try output.write(body)
        note(String(format: "%d completions of %d points (%@, NFE %d, %.2f s)", rows, items, request.sampler.name, result.nfe, seconds))
    }
}
