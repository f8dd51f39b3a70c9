import Foundation
import ScoreEngine
import Testing

@Suite struct TrainerTests {
    static func data(_ n: Int = 500) -> Tensor {
        var rng = Philox(seed: 4)
        return Toy2D.swissRoll.sample(n, rng: &rng)
    }

    static func recipe(_ objective: TrainingRecipe.ObjectiveKind = .dsm, steps: Int = 60) -> TrainingRecipe {
        var r = TrainingRecipe()
        r.objective = objective
        r.steps = steps
        r.batchSize = 32
        r.hidden = [16, 16]
        return r
    }

    @Test(arguments: [TrainingRecipe.ObjectiveKind.dsm, .ncsn, .exact, .sliced])
    func sameSeedSameModel(objective: TrainingRecipe.ObjectiveKind) throws {
        let a = try Trainer(recipe: Self.recipe(objective), data: Self.data())
        let b = try Trainer(recipe: Self.recipe(objective), data: Self.data())
        try a.run()
        try b.run()
        #expect(a.samplingModel.parameters == b.samplingModel.parameters)
        #expect(a.lastLoss.isFinite)
        var other = Self.recipe(objective)
        other.seed = 1
        let c = try Trainer(recipe: other, data: Self.data())
        try c.run()
        #expect(c.samplingModel.parameters != a.samplingModel.parameters)
    }

    /// Stopping, saving the state and resuming gives exactly the run that never stopped.
    @Test func resumeContinuesExactly() throws {
        let whole = try Trainer(recipe: Self.recipe(steps: 40), data: Self.data())
        try whole.run()
        let first = try Trainer(recipe: Self.recipe(steps: 40), data: Self.data())
        for _ in 0..<17 { first.trainStep() }
        let resumed = try Trainer.resume(from: first.state(), data: Self.data())
        #expect(resumed.step == 17)
        try resumed.run()
        #expect(resumed.step == 40)
        #expect(resumed.model.parameters == whole.model.parameters)
        #expect(resumed.samplingModel.parameters == whole.samplingModel.parameters)
    }

    /// Training reduces the loss of each objective (averages of the first and last 50 steps).
    @Test(arguments: [TrainingRecipe.ObjectiveKind.dsm, .ncsn, .exact, .sliced])
    func lossDecreases(objective: TrainingRecipe.ObjectiveKind) throws {
        var r = Self.recipe(objective, steps: 600)
        r.hidden = [64, 64]
        let t = try Trainer(recipe: r, data: Self.data(2000))
        var first = 0.0, last = 0.0
        while !t.isFinished {
            let l = Double(t.trainStep())
            if t.step <= 50 { first += l / 50 }
            if t.step > 550 { last += l / 50 }
        }
        #expect(last < first, "\(objective): \(first) → \(last)")
    }

    @Test func checkpointRoundTrip() throws {
        let t = try Trainer(recipe: Self.recipe(), data: Self.data())
        try t.run()
        let data = t.samplingModel.checkpoint(metadata: ["note": "x"])
        let (m, meta) = try ScoreModel.load(checkpoint: data)
        #expect(meta["note"] == "x")
        #expect(m.parameters == t.samplingModel.parameters)
        #expect(m.architecture == t.samplingModel.architecture && m.schedule == t.samplingModel.schedule)
        // Names as PyTorch's nn.Sequential would give them.
        let file = try Safetensors.read(data)
        #expect(file["net.0.weight"]?.shape == [16, 2 + 32] && file["net.4.bias"]?.shape == [2])
        #expect(file["embed.W"]?.shape == [16] && file["temb.1.weight"]?.shape == [16, 32])
        #expect(throws: (any Error).self) { try ScoreModel.load(checkpoint: Data([1, 2, 3])) }
    }

    @Test func recipeValidationNamesTheField() {
        func field(_ edit: (inout TrainingRecipe) -> Void) -> String? {
            var r = TrainingRecipe()
            edit(&r)
            do { _ = try r.validated(); return nil } catch let e as TrainingRecipe.Invalid { return e.field } catch { return "?" }
        }
        #expect(field { _ in } == nil)
        #expect(field { $0.steps = 0 } == "steps")
        #expect(field { $0.batchSize = 1_000_000 } == "batch_size")
        #expect(field { $0.learningRate = -1 } == "learning_rate")
        #expect(field { $0.hidden = [] } == "hidden")
        #expect(field { $0.sigmaMax = 0.001 } == "sigma_max")
        #expect(field { $0.ema = 1 } == "ema")
        #expect(field { $0.timeFeatures = 3 } == "time_features")
        #expect(field { $0.activation = .exp } == "activation")
        #expect(field { $0.sigma = 0.1; $0.objective = .exact } == "sigma")
    }

    /// σ_max defaults to the larger of the widest pairwise distance and ten data standard deviations.
    @Test func sigmaMaxResolution() {
        let x = Tensor(rows: [[0, 0], [3, 0], [0, 1], [3, 1]])
        #expect(abs(TrainingRecipe().resolvedSigmaMax(x) - 15) < 1e-9)  // std of (0, 3, 0, 3) is 1.5
        var r = TrainingRecipe()
        r.sigmaMax = 7
        #expect(r.resolvedSigmaMax(x) == 7)
    }
}
