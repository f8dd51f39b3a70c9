import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

struct Colorize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Colorize a grey image with a colour image model, as POST /colorize does.",
        discussion: """
            --image: one grey image (PGM or PNG, optionally .gz; a colour image is taken by its grey level) of the
            model's size. The n colour samples keep its grey level, the mean of their channels (Song et al. 2021,
            App. I.3). The sampling options are those of `scored sample`; pc by default (the others of an SDE model but
            langevin work too; pc samples the conditional). The output is that of `scored sample` (--format png, ppm or json).
            """)

    @Option(help: "Checkpoint of a colour image model (3 channels).") var model: String
    @Option(help: "The grey image.") var image: String
    @OptionGroup var output: OutputOptions
    @Argument(parsing: .allUnrecognized, help: "Sampling options as --name value.") var options: [String] = []

    func run() throws {
        let (source, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: model)))
        let shape = source.sampleShape
        guard !source.isClassifier, shape.count == 3, shape[0] == 3 else { throw ValidationError("colorization needs a colour image model (3 channels)") }
        let x = try ImageCodec.read(Array(try Data(contentsOf: URL(fileURLWithPath: image))), limits: .init(maxImages: 1, maxSide: 1024))
        guard x.shape[2] == shape[1], x.shape[3] == shape[2] else {
            throw InvalidParameter("image", "is \(x.shape[3])×\(x.shape[2]); the model's images are \(shape[2])×\(shape[1])")
        }
        let c = x.shape[1], hw = shape[1] * shape[2]
        let grey = Tensor(shape: [1, shape[1], shape[2]], scalars: (0..<hw).map { p in (0..<c).reduce(Float(0)) { $0 + x.scalars[$1 * hw + p] } / Float(c) })
        var fields = try CommandLineFields.parse(options)
        if fields["sampler"] == nil, let name = SamplerRegistry.defaultInpainter(for: source) { fields["sampler"] = .text(name) }
        let request = try SamplingRequest(&fields, source: source, preset: nil, maxSamples: try ServiceConfig.load(file: nil).maxSamples)
        if let unknown = fields.keys.sorted().first { throw InvalidParameter.unknown(unknown) }
        guard let sampler = request.sampler.make(request.settings, source) as? any InpaintingSampler else {
            throw InvalidParameter("sampler", "\(request.sampler.name) cannot inpaint (use one of \(SamplerRegistry.inpainters(for: source).joined(separator: ", ")))")
        }
        let started = Date()
        let result = try SamplingRun(sampler: sampler.inpainting(Inpainting.colorization(grey: grey)), count: request.n, seed: UInt64(request.seed),
                                     shape: shape, threads: output.threads).run(source, shape: shape)
        let seconds = Date().timeIntervalSince(started)
        let bytes = SampleEncoding.isImage(request.format)
            ? try SampleEncoding.image(result.x, format: request.format, grid: request.grid)
            : SampleEncoding.json(result.x, header: SampleEncoding.header(sampler: request.sampler.name, parameters: request.settings.json, n: request.n,
                                                                          seed: request.seed, nfe: result.nfe, seconds: seconds, shape: shape))
        try output.write(bytes)
        note(String(format: "%d colorizations (%@, NFE %d, %.2f s)", request.n, request.sampler.name, result.nfe, seconds))
    }
}
