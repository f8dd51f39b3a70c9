import Foundation
import ScoreEngine
import Testing

/// Sample and score quality of the recipes on 2-D data, with fixed seeds:
/// - the default recipe (VE SDE, 5000 steps) on the swiss roll: Euler–Maruyama and probability-flow ODE samples
///   within twice the data's own energy-distance floor (the distance between two fresh draws of 2000 points;
///   both are means over 8 fresh references);
/// - the NCSN preset with its annealed Langevin sampler, within the same bar;
/// - the exact-score-matching preset (shortened to 20 000 steps, on 10 000 draws of the donut, whose score is
///   known in closed form): the learned score within 10% of the true one in relative mean squared error
///   (the Fisher divergence score matching minimises) on 4000 fresh draws.
/// About 25 s in a release build.
@Suite struct PresetQualityTests {
    static func train(_ body: JSONValue) throws -> (TrainingRecipe, ScoreModel) {
        let recipe = try RecipeSchema.build(try RecipeSchema.flatten(body)) { BuiltinDatasets.kind($0) }
        let data = try #require(try BuiltinDatasets.load(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed, directory: URL(fileURLWithPath: "/")))
        let trainer = try Trainer(recipe: recipe, data: data)
        try trainer.run()
        return (recipe, trainer.samplingModel)
    }

    static func samples(_ model: ScoreModel, _ sampler: String, preset: Preset? = nil) throws -> Tensor {
        let e = try #require(SamplerRegistry.entry(sampler))
        let s = e.make(try e.resolve(preset?.parameters(for: sampler) ?? [:], for: model), model)
        return try SamplingRun(sampler: s, count: 2000, seed: 0).run(model, shape: [2]).x
    }

    static func expectWithinTwiceTheFloor(_ x: Tensor, _ toy: Toy2D, _ what: String) {
        var fresh = Philox(seed: 12345).derived(RandomPurpose.evaluationData)
        let r = SampleQuality.report(samples: x) { toy.sample($0, rng: &fresh) }
        #expect(r.energyDistance <= 2 * r.energyDistanceFloor, "\(what): energy distance \(r.energyDistance), floor \(r.energyDistanceFloor)")
    }

    @Test func defaultRecipeOnTheSwissRoll() throws {
        let (_, model) = try Self.train(["dataset": "swiss_roll"])
        for sampler in ["em", "ode"] { Self.expectWithinTwiceTheFloor(try Self.samples(model, sampler), .swissRoll, sampler) }
    }

    @Test func ncsnPresetWithAnnealedLangevin() throws {
        let preset = try #require(Presets.named("ncsn_swiss_roll"))
        let (_, model) = try Self.train(["preset": "ncsn_swiss_roll"])
        Self.expectWithinTwiceTheFloor(try Self.samples(model, preset.sampling.sampler, preset: preset), .swissRoll, "annealed Langevin")
    }

    @Test func exactPresetLearnsTheDonutScore() throws {
        let (_, model) = try Self.train(["preset": "tutorial_exact_swiss_roll", "dataset": "donut", "dataset_size": 10_000, "steps": 20_000])
        var rng = Philox(seed: 99)
        let x = Toy2D.donut.sample(4000, rng: &rng)
        let tape = Tape(recording: false)
        let learned = evaluateScore(model, x, [Double](repeating: 0, count: 4000), tape: tape)
        let truth = AnalyticTarget.donut.score(Tape().variable(x), t: []).value
        var err = 0.0, norm = 0.0
        for i in 0..<x.count {
            let d = Double(learned.scalars[i] - truth.scalars[i])
            err += d * d
            norm += Double(truth.scalars[i]) * Double(truth.scalars[i])
        }
        #expect(err / norm < 0.1, "relative Fisher divergence \(err / norm)")
    }
}
