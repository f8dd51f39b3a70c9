import Dispatch
import Foundation

/// Runs a recipe: minibatches drawn uniformly with replacement from the data, the objective's loss and
/// gradient on a tape, an Adam step, the EMA update. The batch is split into `Trainer.shards` fixed shards,
/// each with its own tape and noise stream (derived from the step and the shard), whose gradients are
/// averaged in a fixed order; the shards run on up to `threads` threads. Everything random derives from the
/// recipe's seed, so the same recipe and data give the same model whatever the thread count; `state()`
/// captures the run (weights, EMA, Adam moments, step, generator) so that `resume` continues it exactly.
public final class Trainer {
    public let recipe: TrainingRecipe
    public let data: Tensor
    /// The data's labels (0…K−1), for objectives that need them (the classifier).
    public let labels: [Int]?
    public private(set) var model: ScoreModel
    public private(set) var ema: EMA?
    public private(set) var adam: Adam
    public let objective: any TrainingObjective
    public private(set) var step = 0
    /// Mean loss over the steps since the last call to `takeMeanLoss()`.
    private var lossSum: Double = 0
    private var lossCount = 0
    public private(set) var lastLoss: Float = .nan
    var rng: Philox
    let noiseKey: UInt64
    /// Shards of every batch (fixed, so that results do not depend on `threads`).
    public static let shards = 2
    /// Threads the shards run on.
    public var threads: Int = 2
    private let workers: [ShardWorker]

    public init(recipe: TrainingRecipe, data: Tensor, labels: [Int]? = nil, architecture: Architecture? = nil) throws {
        let recipe = try recipe.validated()
        guard data.rank >= 2, data.shape[0] >= 1 else { throw InvalidParameter("dataset", "has no points") }
        self.recipe = recipe
        self.data = data
        let schedule = recipe.schedule(data: data)
        objective = recipe.makeObjective(schedule)
        if objective.needsLabels {
            guard let labels else {
                throw InvalidParameter("dataset", "\(recipe.dataset) has no labels; objective \(recipe.objective) needs a labelled data set")
            }
            guard labels.count == data.shape[0], labels.allSatisfy({ $0 >= 0 }), Set(labels).count >= 2 else {
                throw InvalidParameter("dataset", "\(recipe.dataset): objective \(recipe.objective) needs one label per item and two classes at least")
            }
        }
        self.labels = objective.needsLabels ? labels : nil
        let arch = try architecture ?? Trainer.architecture(recipe, data: data, classes: self.labels.map { ($0.max() ?? 0) + 1 })
        if objective is ExactScoreMatching, data.count / data.shape[0] > ExactScoreMatching.maxDimension {
            throw InvalidParameter("objective", "exact score matching needs data of dimension ≤ \(ExactScoreMatching.maxDimension)")
        }
        model = ScoreModel(architecture: arch, schedule: schedule, seed: recipe.seed)
        ema = recipe.ema > 0 ? EMA(decay: Float(recipe.ema), initial: model.parameters) : nil
        adam = Adam(learningRate: Float(recipe.learningRate), warmup: recipe.warmup, gradClip: Float(recipe.gradClip))
        if recipe.lrSchedule == .cosine { adam.decaySteps = recipe.steps }
        rng = Philox(seed: recipe.seed).derived(RandomPurpose.minibatches)
        noiseKey = Philox.mix(recipe.seed ^ RandomPurpose.trainingNoise)
        workers = (0..<Trainer.shards).map { _ in ShardWorker() }
    }

    /// One optimisation step; returns its loss.
    @discardableResult
    public func trainStep() -> Float {
        let n = recipe.batchSize, rows = data.shape[0]
        let indices = (0..<n).map { _ in rng.index(below: rows) }
        let k = min(Trainer.shards, n)
        // In a scope of its own, so that the copy of the model the shards read is gone before the update writes
        // the weights (a copy still alive then makes the update copy every weight first).
        do {
            let m = model, objective = self.objective, data = self.data, labels = self.labels
            let step = UInt64(self.step), key = noiseKey
            let work: @Sendable (Int) -> Void = { [workers] s in
                let lo = s * n / k, hi = (s + 1) * n / k
                var noise = Philox(seed: key, stream: step &* UInt64(Trainer.shards) &+ UInt64(s))
                let rows = Array(indices[lo..<hi])
                workers[s].run(model: m, objective: objective, batch: data.rows(at: rows),
                               labels: labels.map { l in rows.map { l[$0] } }, weight: Float(hi - lo) / Float(n), rng: &noise)
            }
            if threads > 1 && k > 1 {
                WorkerPool.shared.run(iterations: k, work)
            } else {
                for s in 0..<k { work(s) }
            }
        }
        var value = workers[0].loss
        for s in 1..<k { value += workers[s].loss }
        // The shards' gradients are summed within the update, in one pass with the EMA's.
        adam.update(&model.parameters, shards: workers[0..<k].map(\.gradients), ema: &ema, threads: threads)
        for w in workers { w.release() }
        self.step += 1
        lastLoss = value
        if value.isFinite { lossSum += Double(value); lossCount += 1 }
        return value
    }

    /// The mean loss since the previous call (nil if no finite loss was seen).
    public func takeMeanLoss() -> Double? {
        defer { lossSum = 0; lossCount = 0 }
        return lossCount > 0 ? lossSum / Double(lossCount) : nil
    }

    public var isFinished: Bool { step >= recipe.steps }

    /// The learning rate of the next step (warm-up and decay applied).
    public var learningRate: Double { Double(adam.currentLearningRate) }

    /// The model used for sampling: the EMA weights when there is an EMA.
    public var samplingModel: ScoreModel {
        var m = model
        if let ema { m.parameters = ema.shadow }
        return m
    }

    public struct Diverged: Error, CustomStringConvertible {
        public let step: Int
        public var description: String { "the loss is not finite at step \(step) (try a lower learning_rate or grad_clip)" }
    }

    /// Trains to `recipe.steps`, calling `progress` after each `every` steps (and at the end); `progress`
    /// returning false stops early. Throws `Diverged` when the loss stops being finite.
    public func run(every: Int = 50, progress: (Trainer) -> Bool = { _ in true }) throws {
        while !isFinished {
            let loss = trainStep()
            if !loss.isFinite { throw Diverged(step: step) }
            if step % every == 0 || isFinished {
                if !progress(self) { return }
            }
        }
    }

    /// The network a recipe builds for its data: the MLP for points [n, d], the U-Net for images [n, C, H, W];
    /// with `classes`, a classifier of that many classes on the same body (the U-Net's encoder half).
    public static func architecture(_ recipe: TrainingRecipe, data: Tensor, classes: Int? = nil) throws -> Architecture {
        let body = try scoreArchitecture(recipe, data: data)
        guard let classes else { return body }
        switch body {
        case .mlp(let c): return .classifier(.init(classes: classes, body: .mlp(c)))
        case .unet(let c): return .classifier(.init(classes: classes, body: .encoder(c)))
        case .classifier: return body
        }
    }

    static func scoreArchitecture(_ recipe: TrainingRecipe, data: Tensor) throws -> Architecture {
        let scale = recipe.preconditioning ? data.rmsScale : nil
        guard DataKind(itemShape: Array(data.shape.dropFirst())) == recipe.kind else {
            throw InvalidParameter("dataset", "holds \(DataKind(itemShape: Array(data.shape.dropFirst()))), the recipe is for \(recipe.kind)")
        }
        if data.rank == 4 {
            let c = UNetScoreNet.Config(imageShape: Array(data.shape.dropFirst()), channels: recipe.channels,
                                        embedDim: recipe.timeFeatures, fourierScale: Float(recipe.fourierScale), dataScale: scale)
            if let problem = c.problem { throw InvalidParameter("dataset", problem) }
            return .unet(c)
        }
        guard data.rank == 2 else { throw InvalidParameter("dataset", "holds items of shape \(Array(data.shape.dropFirst())); points [d] or images [C, H, W] are needed") }
        let m = MLPScoreNet.Config(dimension: data.shape[1], hidden: recipe.hidden, activation: recipe.activation,
                                   timeFeatures: recipe.timeFeatures, fourierScale: Float(recipe.fourierScale),
                                   conditioning: recipe.conditioning, dataScale: scale)
        if let problem = m.problem { throw InvalidParameter("model", problem) }
        return .mlp(m)
    }

    // MARK: - State

    /// The whole run as safetensors: weights (`model.*`), EMA (`ema.*`), Adam moments (`adam.m.*`,
    /// `adam.v.*`); step and generator in the metadata (the recipe is the caller's: `resume` takes it back).
    public func state() -> Data {
        var tensors: [(String, Tensor)] = model.parameters.named.map { ("model.\($0.0)", $0.1) }
        if let ema { tensors += ema.shadow.named.map { ("ema.\($0.0)", $0.1) } }
        if !adam.m.isEmpty {
            tensors += zip(model.parameters.names, adam.m).map { ("adam.m.\($0.0)", $0.1) }
            tensors += zip(model.parameters.names, adam.v).map { ("adam.v.\($0.0)", $0.1) }
        }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let meta: [String: String] = [
            "format": "scored-training-state/1",
            "step": String(step),
            "adam_step": String(adam.step),
            "rng": String(decoding: (try? enc.encode(rng)) ?? Data(), as: UTF8.self),
        ]
        return Safetensors.write(tensors, metadata: meta)
    }

    public struct StateError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Continues a run from `state()` output, with the same recipe and data.
    public static func resume(from state: Data, recipe: TrainingRecipe, data: Tensor, labels: [Int]? = nil,
                              architecture: Architecture? = nil) throws -> Trainer {
        let file = try Safetensors.read(state)
        guard file.metadata["format"] == "scored-training-state/1", let rngJSON = file.metadata["rng"],
              let step = file.metadata["step"].flatMap(Int.init), let adamStep = file.metadata["adam_step"].flatMap(Int.init)
        else { throw StateError(description: "not a training state") }
        let t = try Trainer(recipe: recipe, data: data, labels: labels, architecture: architecture)
        func section(_ prefix: String) -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (k, v) in file.tensors where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v }
            return out
        }
        try t.model.parameters.load(from: section("model."))
        if t.ema != nil { try t.ema!.shadow.load(from: section("ema.")) }
        if adamStep > 0 {
            var m = t.model.parameters, v = t.model.parameters
            try m.load(from: section("adam.m."))
            try v.load(from: section("adam.v."))
            t.adam.restore(step: adamStep, m: m.tensors, v: v.tensors)
        }
        t.rng = try JSONDecoder().decode(Philox.self, from: Data(rngJSON.utf8))
        t.step = step
        return t
    }
}

/// One shard's tape and results. Each worker is used by one thread at a time.
final class ShardWorker: @unchecked Sendable {
    let tape = Tape()
    var loss: Float = 0
    var gradients: [Tensor?] = []

    /// The shard's loss and gradients, both scaled by `weight` (its share of the batch).
    func run(model: ScoreModel, objective: any TrainingObjective, batch: Tensor, labels: [Int]?, weight: Float, rng: inout Philox) {
        tape.reset()
        let p = model.parameters.bind(to: tape, training: true)
        let l = objective.loss(model: { model.score($0, t: $1, parameters: p) }, batch: batch, labels: labels, tape: tape, rng: &rng)
        let trainable = (0..<p.count).filter { model.parameters.trainable[$0] }
        // The backward pass starts from the weight instead of 1, so the gradients come out scaled (a pass over
        // every gradient saved).
        let seed = Tensor(repeating: weight, shape: l.shape)
        let g = tape.gradients(of: l, wrt: trainable.map { p[$0] }, seed: seed)
        gradients = [Tensor?](repeating: nil, count: p.count)
        for (j, i) in trainable.enumerated() { gradients[i] = g[j].value }
        loss = l.value.scalar * weight
        tape.reset()  // drop the tape's references so the update writes the weights in place
    }

    func release() { gradients = [] }
}
