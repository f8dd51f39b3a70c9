import ArgumentParser
import Foundation
import ScoreEngine

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a checkpoint (or the analytic donut) and print them as a JSON point cloud.")

    @Option(help: "Checkpoint written by `scored train`.") var model: String?
    @Option(help: "Sample an analytic target instead of a model: donut (log p = −(|x| − 2.6)²/0.033).") var target: String?
    @Option(help: "em, reverse_diffusion, pc, ode, annealed_langevin, langevin (default: the model's first).") var sampler: String?
    @Option var n = 1000
    @Option var seed: UInt64 = 0
    @Option var steps: Int?
    @Option var snr: Double?
    @Option(name: .customLong("corrector-steps")) var correctorSteps: Int?
    @Option(help: "pc predictor: em or reverse_diffusion.") var predictor: String?
    @Option(help: "ode solver: rk45, rk4, heun, euler.") var solver: String?
    @Option var rtol: Double?
    @Option var atol: Double?
    @Option(name: .customLong("eps-end")) var epsEnd: Double?
    @Option(name: .customLong("step-size")) var stepSize: Double?
    @Option(name: .customLong("init-std")) var initStd: Double?
    @Flag(inversion: .prefixedNo, help: "Tweedie denoising at the end.") var denoise: Bool?
    @Option var threads = 2
    @Option(name: [.short, .long], help: "Write here instead of standard output.") var out: String?
    @Option(help: "Image models: pgm (binary P5, the default) or json.") var format: String?
    @Flag(help: "Image models: one tiled grid image.") var grid = false
    @Flag(help: "Compress the PGM output with gzip.") var gzip = false

    func run() throws {
        let score: any ScoreFunction
        let built: any Sampler
        var spec: SamplerSpec
        if let target {
            guard target == "donut" else { throw ValidationError("unknown target \(target) (donut)") }
            guard model == nil else { throw ValidationError("give --model or --target, not both") }
            spec = SamplerSpec(name: .langevin)
            score = LogDensityScore { Toy2D.donutLogDensity($0) }
            built = LangevinDynamics(stepSize: stepSize ?? 1e-3, steps: steps ?? 1000,
                                     start: .uniform(low: -3, high: 3))
        } else {
            guard let model else { throw ValidationError("give --model (a checkpoint) or --target donut") }
            let (m, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: model)))
            let name = try sampler.map {
                guard let k = SamplerSpec.Name(rawValue: $0) else { throw ValidationError("unknown sampler \($0)") }
                return k
            } ?? SamplerSpec.supported(by: m)[0]
            spec = SamplerSpec(name: name)
            spec.steps = steps; spec.snr = snr; spec.correctorSteps = correctorSteps; spec.predictor = predictor
            spec.solver = solver; spec.rtol = rtol; spec.atol = atol; spec.epsEnd = epsEnd; spec.stepSize = stepSize
            spec.initStd = initStd; spec.denoise = denoise
            built = try spec.make(for: m)
            score = m
        }
        guard (1...1_000_000).contains(n) else { throw ValidationError("--n must be between 1 and 1000000") }
        let started = Date()
        let bar = ProgressLine(total: 100)
        let control = SamplingControl(totalRows: n) { f in bar.update(step: Int(f * 100), loss: nil, unit: "%") }
        let shape = target == nil ? try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: model!))).model.sampleShape : [2]
        // Images: the rows split evenly over the threads, at most 32 per batch (as the service does).
        let chunk = shape.count > 1 ? max(1, min(32, (n + threads - 1) / max(threads, 1))) : 1024
        let result = try SamplingRun(sampler: built, count: n, seed: seed, chunkSize: chunk, threads: threads)
            .run(score, shape: shape, control: control)
        let seconds = Date().timeIntervalSince(started)
        if shape.count > 1 && format != "json" {
            guard format == nil || format == "pgm" else { throw ValidationError("--format must be pgm or json") }
            let pgm = grid ? ImageCodec.pgmGrid(result.x) : ImageCodec.pgm(result.x)
            let bytes = Data(gzip ? Gzip.compress(pgm) : pgm)
            if let out { try bytes.write(to: URL(fileURLWithPath: out), options: .atomic) } else { FileHandle.standardOutput.write(bytes) }
            note(String(format: "%d images (%@, NFE %d, %.1f s)", n, built.description, result.nfe, seconds))
            return
        }
        guard format == nil || format == "json" else { throw ValidationError("--format pgm applies to image models") }
        let json = "{\"sampler\":\(JSONValue.string(built.description).serialized),\"n\":\(n),\"seed\":\(seed),\"nfe\":\(result.nfe),"
            + "\"seconds\":\(JSONValue.format((seconds * 1000).rounded() / 1000)),\"points\":\(PointCloud.json(result.x))}\n"
        if let out {
            try Data(json.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            note(String(format: "wrote %d samples to %@ (%@, NFE %d, %.2f s)", n, out, built.description, result.nfe, seconds))
        } else {
            FileHandle.standardOutput.write(Data(json.utf8))
        }
        _ = spec
    }
}
