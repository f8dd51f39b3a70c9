import ArgumentParser
import Foundation
import ScoreEngine

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a score model and write it as a .safetensors checkpoint.")

    @Option(help: "Built-in data set (\(Toy2D.allCases.map(\.rawValue).joined(separator: ", ")), mnist, mnist_test) a .json/.csv point file, or an image set (.idx, .pgm, optionally .gz).")
    var dataset = "swiss_roll"
    @Option(name: .customLong("dataset-size"), help: "Points drawn from a built-in data set.") var datasetSize = 10_000
    @Option(help: "dsm (continuous SDE, or one sigma with --sigma), ncsn, exact, sliced.") var objective = "dsm"
    @Option(help: "ve, vp or subvp (objective dsm).") var sde = "ve"
    @Option(help: "One noise scale for dsm (no SDE).") var sigma: Double?
    @Option(name: .customLong("sigma-min")) var sigmaMin = 0.01
    @Option(name: .customLong("sigma-max"), help: "Default: the largest pairwise distance in the data.") var sigmaMax: Double?
    @Option(name: .customLong("beta-min")) var betaMin = 0.1
    @Option(name: .customLong("beta-max")) var betaMax = 20.0
    @Option(help: "Noise levels (ncsn).") var levels = 10
    @Option(help: "sigma2 or likelihood (dsm on an SDE).") var weighting = "sigma2"
    @Option(help: "rademacher or gaussian (sliced).") var probe = "rademacher"
    @Flag(name: .customLong("variance-reduced"), help: "Sliced score matching with ½|s|² (SSM-VR).") var varianceReduced = false
    @Option(help: "Hidden widths, comma-separated.") var hidden = "128,128,128"
    @Option(help: "silu, relu, elu, tanh, softplus, logSigmoid, sigmoid.") var activation = "silu"
    @Option(name: .customLong("time-features"), help: "Fourier features of t (default 32; images 256).") var timeFeatures: Int?
    @Option(name: .customLong("fourier-scale"), help: "Default 4; images 8.") var fourierScale: Double?
    @Option(help: "concat (γ(t) at the input) or layers (also projected into every hidden layer).") var conditioning = "layers"
    @Option(name: .customLong("lr-schedule"), help: "cosine or constant.") var lrSchedule = "cosine"
    @Option(help: "Default 5000; images 20000.") var steps: Int?
    @Option(name: .customLong("batch-size"), help: "Default 256; images 32.") var batchSize: Int?
    @Option(name: [.customLong("lr"), .customLong("learning-rate")], help: "Default 3e-3; images 5e-4.") var learningRate: Double?
    @Option(help: "Warm-up steps (default 0; images 500).") var warmup: Int?
    @Option(name: .customLong("grad-clip")) var gradClip = 1.0
    @Option(help: "EMA decay of the sampling weights (0: none; default 0.99, images 0.999).") var ema: Double?
    @Option(help: "U-Net widths of the four levels (image data), comma-separated.") var channels = "32,64,128,256"
    @Option var seed: UInt64 = 0
    @Option(name: [.short, .long], help: "Checkpoint to write.") var out = "model.safetensors"

    func recipe() throws -> TrainingRecipe {
        var r = isImageDataSet(dataset) ? TrainingRecipe.imageDefaults : TrainingRecipe()
        r.dataset = dataset
        r.datasetSize = datasetSize
        guard let o = TrainingRecipe.ObjectiveKind(rawValue: objective) else { throw TrainingRecipe.Invalid("objective", "must be dsm, ncsn, exact or sliced") }
        r.objective = o
        guard let s = TrainingRecipe.SDEKind(rawValue: sde) else { throw TrainingRecipe.Invalid("sde", "must be ve, vp or subvp") }
        r.sde = s
        r.sigma = sigma
        r.sigmaMin = sigmaMin
        if let sigmaMax { r.sigmaMax = sigmaMax }
        r.betaMin = betaMin
        r.betaMax = betaMax
        r.levels = levels
        guard let w = ContinuousDenoisingScoreMatching.Weighting(rawValue: weighting) else { throw TrainingRecipe.Invalid("weighting", "must be sigma2 or likelihood") }
        r.weighting = w
        guard let p = Probe(rawValue: probe) else { throw TrainingRecipe.Invalid("probe", "must be rademacher or gaussian") }
        r.probe = p
        r.varianceReduced = varianceReduced
        let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.contains(where: { $0 == nil }) else { throw TrainingRecipe.Invalid("hidden", "must be comma-separated integers") }
        r.hidden = widths.map { $0! }
        guard let a = Pointwise(rawValue: activation) else { throw TrainingRecipe.Invalid("activation", "unknown activation \(activation)") }
        r.activation = a
        if let timeFeatures { r.timeFeatures = timeFeatures }
        if let fourierScale { r.fourierScale = fourierScale }
        let widths4 = channels.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths4.contains(where: { $0 == nil }) else { throw TrainingRecipe.Invalid("channels", "must be comma-separated integers") }
        r.channels = widths4.map { $0! }
        guard let c = MLPScoreNet.Config.Conditioning(rawValue: conditioning) else { throw TrainingRecipe.Invalid("conditioning", "must be concat or layers") }
        r.conditioning = c
        guard let ls = TrainingRecipe.LearningRateSchedule(rawValue: lrSchedule) else { throw TrainingRecipe.Invalid("lr_schedule", "must be cosine or constant") }
        r.schedule = ls
        if let steps { r.steps = steps }
        if let batchSize { r.batchSize = batchSize }
        if let learningRate { r.learningRate = learningRate }
        if let warmup { r.warmup = warmup }
        r.gradClip = gradClip
        if let ema { r.ema = ema }
        r.seed = seed
        return try r.validated()
    }

    func run() throws {
        let recipe = try recipe()
        let data = try loadData(dataset: recipe.dataset, size: recipe.datasetSize, seed: recipe.seed)
        let trainer = try Trainer(recipe: recipe, data: data)
        note("training \(recipe.objective.rawValue) on \(recipe.dataset) (\(data.shape[0]) \(data.rank == 4 ? "images" : "points")), schedule \(trainer.model.schedule.name), \(trainer.model.parameters.trainableScalarCount) parameters")
        let bar = ProgressLine(total: recipe.steps)
        let started = Date()
        try trainer.run(every: max(1, min(100, recipe.steps / 100))) { t in
            bar.update(step: t.step, loss: t.takeMeanLoss())
            return true
        }
        let seconds = Date().timeIntervalSince(started)
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let meta = ["recipe": String(decoding: try enc.encode(recipe), as: UTF8.self),
                    "steps": String(trainer.step), "final_loss": String(trainer.lastLoss),
                    "train_seconds": String(format: "%.2f", seconds)]
        try trainer.samplingModel.checkpoint(metadata: meta).write(to: URL(fileURLWithPath: out), options: .atomic)
        note(String(format: "wrote %@ (%d steps in %.1f s, %.0f steps/s)", out, trainer.step, seconds, Double(trainer.step) / seconds))
    }
}
