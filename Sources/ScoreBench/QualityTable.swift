import Foundation
import ScoreEngine

/// The default recipe (`TrainingRecipe()`: VE SDE, 5000 steps, batch 256) on each data set, then 2000
/// samples by Euler–Maruyama and by the probability-flow ODE, scored as `scored eval` does: energy distance
/// and sliced W₁ to fresh data (means over 8 fresh references), beside the data's own floor.
struct QualityTable {
    let datasets: [Toy2D]
    let seed: UInt64

    func run() {
        print("data set      train(s)  sampler  energy dist (× floor)   sliced W1 (× floor)")
        for toy in datasets {
            var recipe = TrainingRecipe()
            recipe.dataset = toy.rawValue
            recipe.seed = seed
            var rng = Philox(seed: recipe.seed).derived(RandomPurpose.trainingData)
            let data = toy.sample(recipe.datasetSize, rng: &rng)
            let start = Date()
            let trainer = try! Trainer(recipe: recipe, data: data)
            try! trainer.run()
            let seconds = Date().timeIntervalSince(start)
            let model = trainer.samplingModel
            var fresh = Philox(seed: 12345).derived(RandomPurpose.evaluationData)
            for name in ["em", "ode"] {
                let entry = SamplerRegistry.entry(name)!
                let x = try! SamplingRun(sampler: entry.make(try! entry.resolve([:], for: model), model), count: 2000, seed: 0)
                    .run(model, shape: [2]).x
                let r = SampleQuality.report(samples: x) { toy.sample($0, rng: &fresh) }
                print(String(format: "%@ %8.1f  %@ %.5f (%.2f)        %.4f (%.2f)", toy.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0),
                             seconds, name.padding(toLength: 7, withPad: " ", startingAt: 0),
                             r.energyDistance, r.energyDistance / r.energyDistanceFloor,
                             r.slicedWasserstein1, r.slicedWasserstein1 / r.slicedWasserstein1Floor))
            }
        }
    }
}
