import Foundation
import ScoreEngine

/// Every 2-D preset as written (full length), then 2000 samples with its own sampler, scored as `scored eval`
/// does: energy distance and sliced W₁ to fresh draws of its data set, beside the data's own floor.
struct PresetTable {
    func run() {
        print("preset                     train(s)  sampler            energy dist (× floor)   sliced W1 (× floor)")
        for preset in Presets.all where preset.kind == .points {
            let recipe = try! RecipeSchema.build(["preset": .text(preset.name)]) { BuiltinDatasets.kind($0) }
            let toy = Toy2D(rawValue: recipe.dataset)!
            let data = try! BuiltinDatasets.load(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed, directory: URL(fileURLWithPath: "."))!
            let start = Date()
            let trainer = try! Trainer(recipe: recipe, data: data)
            try! trainer.run()
            let seconds = Date().timeIntervalSince(start)
            let model = trainer.samplingModel
            let entry = SamplerRegistry.defaultEntry(for: model, preset: preset)!
            let sampler = entry.make(try! entry.resolve(preset.parameters(for: entry.name), for: model), model)
            let x = try! SamplingRun(sampler: sampler, count: 2000, seed: 0).run(model, shape: [2]).x
            var fresh = Philox(seed: 12345).derived(RandomPurpose.evaluationData)
            let r = SampleQuality.report(samples: x) { toy.sample($0, rng: &fresh) }
            print(String(format: "%@ %8.1f  %@ %.5f (%.2f)        %.4f (%.2f)", preset.name.padding(toLength: 26, withPad: " ", startingAt: 0),
                         seconds, entry.name.padding(toLength: 18, withPad: " ", startingAt: 0),
                         r.energyDistance, r.energyDistance / r.energyDistanceFloor,
                         r.slicedWasserstein1, r.slicedWasserstein1 / r.slicedWasserstein1Floor))
        }
    }
}
