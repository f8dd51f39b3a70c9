import Foundation
import ScoreEngine
import Testing

@Suite struct TrainerTests {
    static func data(_ n: Int = 500) -> Tensor {
        var rng = Philox(seed: 4)
        return Toy2D.swissRoll.sample(n, rng: &rng)
    }

    static let objectives = ["dsm", "ncsn", "exact", "sliced"]

    static func recipe(_ objective: String = "dsm", steps: Int = 60) -> TrainingRecipe {
        var r = TrainingRecipe()
        r.setObjective(objective)
        r.steps = steps
        r.batchSize = 32
        r.hidden = [16, 16]
        return r
    }

    @Test(arguments: objectives)
    func sameSeedSameModel(objective: String) throws {
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
        let resumed = try Trainer.resume(from: first.state(), recipe: Self.recipe(steps: 40), data: Self.data())
        #expect(resumed.step == 17)
        try resumed.run()
        #expect(resumed.step == 40)
        #expect(resumed.model.parameters == whole.model.parameters)
        #expect(resumed.samplingModel.parameters == whole.samplingModel.parameters)
    }

    /// Training reduces the loss of each objective (averages of the first and last 50 steps).
    @Test(arguments: objectives)
    func lossDecreases(objective: String) throws {
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

    /// σ_max defaults to the larger of the widest pairwise distance and ten data standard deviations.
    @Test func sigmaMaxResolution() throws {
        let x = Tensor(rows: [[0, 0], [3, 0], [0, 1], [3, 1]])
        #expect(abs(resolvedSigmaMax(x, sigmaMin: 0.01) - 15) < 1e-9)  // std of (0, 3, 0, 3) is 1.5
        let r = TrainingRecipe()
        guard case .sde(let ve as VESDE) = r.schedule(data: x) else { Issue.record("not a VE SDE"); return }
        #expect(abs(ve.sigmaMax - 15) < 1e-9)
        var set = TrainingRecipe()
        set.setObjective("dsm", ["sigma_max": 7])
        guard case .sde(let ve7 as VESDE) = set.schedule(data: x) else { Issue.record("not a VE SDE"); return }
        #expect(ve7.sigmaMax == 7)
    }
}
