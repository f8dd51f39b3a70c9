import Foundation
import ScoreEngine
import Testing

/// The default VE-SDE recipe on the swiss roll (5000 steps, batch 256) gives Euler–Maruyama and
/// probability-flow ODE samples (2000 each) within twice the data's own energy-distance floor: the distance
/// between two fresh draws of 2000 points. Both are means over 8 fresh references (one such V-statistic
/// varies about as much as its mean). Seeds are fixed; about 25 s in a release build.
@Suite struct SwissRollQualityTests {
    @Test func defaultRecipeSamplesWithinTwiceTheFloor() throws {
        var recipe = TrainingRecipe()
        recipe.dataset = "swiss_roll"
        var rng = Philox(seed: recipe.seed).derived(0xDA7A)
        let data = Toy2D.swissRoll.sample(recipe.datasetSize, rng: &rng)
        let trainer = try Trainer(recipe: recipe, data: data)
        try trainer.run()
        let model = trainer.samplingModel
        var fresh = Philox(seed: 12345).derived(0xE7A1)
        for name in [SamplerSpec.Name.em, .ode] {
            let x = try SamplingRun(sampler: SamplerSpec(name: name).make(for: model), count: 2000, seed: 0)
                .run(model, shape: [2]).x
            let r = SampleQuality.report(samples: x) { Toy2D.swissRoll.sample($0, rng: &fresh) }
            #expect(r.energyDistance <= 2 * r.energyDistanceFloor,
                    "\(name.rawValue): energy distance \(r.energyDistance), floor \(r.energyDistanceFloor)")
        }
    }
}
