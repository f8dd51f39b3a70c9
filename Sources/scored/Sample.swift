import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a checkpoint (or an analytic target) and write them as GET /samples does.",
        discussion: """
            The options are those of GET /samples, checked the same way:

            \(CommandLineFields.help(SamplingRequest.parameters(maxSamples: ServiceConfig().maxSamples).map { ($0.key, $0, nil) }))

            and the samplers' settings (each sampler takes its own; see GET /samplers):

            \(CommandLineFields.help(SamplerRegistry.all.flatMap { e in e.parameters.map { ($0.key, $0, "sampler \(e.name)") } }))
            """)

    @Option(help: "Checkpoint written by `scored train` (or downloaded from GET /models/{id}/checkpoint).") var model: String?
    @Option(help: "Sample an analytic target instead of a model: \(AnalyticTarget.all.map(\.name).joined(separator: ", ")).") var target: String?
    @Option(help: "A noise-conditional classifier's checkpoint (trained with --objective classifier on the model's SDE): sample the classes of --label.") var classifier: String?
    @Option(help: "Apply a preset's sampler settings (default: the checkpoint's training preset, if any).") var preset: String?
    @OptionGroup var output: OutputOptions
    @Flag(help: "Compress the output with gzip.") var gzip = false
    @Argument(parsing: .allUnrecognized, help: "Sampling options as --name value.") var options: [String] = []

    func run() throws {
        let source: any ScoreSource
        var trainedPreset: Preset? = nil
        switch (model, target) {
        case (let path?, nil):
            let (m, meta) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: path)))
            source = m
            trainedPreset = meta["recipe"].flatMap { try? JSONValue(parsing: $0) }?["preset"]?.string.flatMap(Presets.named)
        case (nil, let name?):
            source = AnalyticTarget.named(try SamplingRequest.targetParameter.parse(.text(name)).string ?? "")!
        default:
            throw ValidationError("give --model (a checkpoint) or --target (\(AnalyticTarget.all.map(\.name).joined(separator: ", ")))")
        }
        var preset = trainedPreset
        if let name = self.preset { preset = Presets.named(try SamplingRequest.presetParameter.parse(.text(name)).string ?? "") }
        var fields = try CommandLineFields.parse(options)
        let guide = try classifier.map { try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: $0))).model }
        let request = try SamplingRequest(&fields, source: source, preset: preset, maxSamples: try ServiceConfig.load(file: nil).maxSamples,
                                          classifier: guide)
        if let unknown = fields.keys.sorted().first { throw InvalidParameter.unknown(unknown) }
        let sampler = request.sampler.make(request.settings, source)
        let started = Date()
        let bar = ProgressLine(total: 100)
        let control = SamplingControl(totalRows: request.rows) { f in bar.update(step: Int(f * 100), loss: nil, unit: "%") }
        let shape = source.sampleShape
        let result = try SamplingRun(sampler: sampler, count: request.rows, seed: UInt64(request.seed), shape: shape, threads: output.threads)
            .run(request.score(source, classifier: guide), shape: shape, control: control)
        let seconds = Date().timeIntervalSince(started)
        let bytes: [UInt8]
        if SampleEncoding.isImage(request.format) {
            let image = try SampleEncoding.image(result.x, format: request.format, grid: request.grid, columns: request.gridColumns)
            bytes = gzip ? Gzip.compress(image) : image
        } else {
            var header = SampleEncoding.header(sampler: request.sampler.name, parameters: request.settings.json, n: request.rows,
                                               seed: request.seed, nfe: result.nfe, seconds: seconds, shape: shape)
            if let labels = request.labels, let classifier {
                header.merge(SampleEncoding.guidanceHeader(classifier: classifier, labels: labels, perLabel: request.n, guidance: request.guidance)) { _, b in b }
            }
            if let model { header["model"] = .string(model) }
            if let target { header["target"] = .string(target) }
            bytes = SampleEncoding.json(result.x, header: header)
        }
        try output.write(bytes)
        note(String(format: "%d samples (%@, NFE %d, %.2f s)%@", request.rows, request.sampler.name, result.nfe, seconds, output.out.map { " written to \($0)" } ?? ""))
    }
}
