import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ScoreEngine

/// Sample quality against the number of network evaluations for every sampler of the SDE models:
/// - points: the default recipe on each built-in 2-D set, 2000 samples, energy distance to fresh data over the
///   data's own floor (as `score-bench quality`);
/// - images (with `--mnist-model CKPT`, a model of the default image recipe): n images (default 1000), the
///   Fréchet distance to the MNIST test set in the features of the shipped MNIST classifier, over the floor of
///   n real training images, and the seconds 64 images take.
/// Each figure is the mean over the sampling seeds (`--seeds`, default 0): on MNIST the distance of 1000 samples
/// moves by a sixth between seeds, more than between some samplers.
struct SamplerTable {
    let datasets: [Toy2D]
    let mnistModel: String?
    let images: Int
    let budgets: [Int]
    var seeds: [UInt64] = [0]

    /// (sampler, settings, label) at one budget; the references at their own budgets.
    func configurations(_ budget: Int) -> [(String, [String: RawValue], String)] {
        [("dpm_solver", ["steps": .text("\(budget)"), "eta": .text("2")], "dpm_solver 3M η=2"),
         ("dpm_solver", ["steps": .text("\(budget)"), "order": .text("2"), "eta": .text("2")], "dpm_solver 2M η=2"),
         ("dpm_solver", ["steps": .text("\(budget)"), "eta": .text("1")], "dpm_solver 3M η=1"),
         ("dpm_solver", ["steps": .text("\(budget)"), "eta": .text("0"), "eps_end": .text("0.001")], "dpm_solver 3M ODE"),
         ("dpm_solver", ["steps": .text("\(budget)"), "order": .text("2"), "eta": .text("0"), "eps_end": .text("0.001")], "dpm_solver 2M ODE"),
         ("heun", ["steps": .text("\(budget)")], "heun"),
         ("euler", ["steps": .text("\(budget)")], "euler"),
         ("edm", ["steps": .text("\(budget)")], "edm (S_churn 40)"),
         ("edm", ["steps": .text("\(budget)"), "eps_end": .text("0.3")], "edm ε=0.3"),
         ("ddim", ["steps": .text("\(budget)"), "eta": .text("0"), "eps_end": .text("0.001")], "ddim η=0"),
         ("ddim", ["steps": .text("\(budget)"), "eta": .text("1"), "eps_end": .text("0.3")], "ddim η=1 ε=0.3")]
    }
    static let references: [(String, [String: RawValue], String)] = [
        ("pc", [:], "pc (500 steps)"), ("em", [:], "em (1000 steps)"), ("ode", [:], "ode rk45 1e-5"),
    ]

    func run() throws {
        for toy in datasets { try points(toy) }
        if let mnistModel { try mnist(mnistModel) }
    }

    func points(_ toy: Toy2D) throws {
        var recipe = TrainingRecipe()
        recipe.dataset = toy.rawValue
        let data = try BuiltinDatasets.load(toy.rawValue, size: recipe.datasetSize, seed: recipe.seed, directory: URL(fileURLWithPath: "."))!
        let trainer = try Trainer(recipe: recipe, data: data)
        try trainer.run()
        let model = trainer.samplingModel
        print("\n\(toy.rawValue): energy distance / floor (2000 samples, mean over \(seeds.count) seeds), NFE")
        func score(_ name: String, _ settings: [String: RawValue]) throws -> (Double, Int) {
            let e = SamplerRegistry.entry(name)!
            var total = 0.0, nfe = 0
            for seed in seeds {
                let out = try SamplingRun(sampler: e.make(try e.resolve(settings, for: model), model), count: 2000, seed: seed).run(model, shape: [2])
                var fresh = Philox(seed: 12345).derived(RandomPurpose.evaluationData)
                let r = SampleQuality.report(samples: out.x) { toy.sample($0, rng: &fresh) }
                total += r.energyDistance / r.energyDistanceFloor
                nfe = out.nfe
            }
            return (total / Double(seeds.count), nfe)
        }
        for (name, settings, label) in Self.references {
            let (q, nfe) = try score(name, settings)
            print(String(format: "  %@ %6.2f  (NFE %d)", label.padding(toLength: 18, withPad: " ", startingAt: 0), q, nfe))
        }
        for (k, (_, _, label)) in configurations(budgets[0]).enumerated() {
            var line = "  " + label.padding(toLength: 18, withPad: " ", startingAt: 0)
            for b in budgets {
                let (name, settings, _) = configurations(b)[k]
                let (q, nfe) = try score(name, settings)
                line += String(format: " %6.2f (%3d)", q, nfe)
            }
            print(line)
            fflush(nil)  // each row as it is measured, also into a file
        }
    }

    func mnist(_ path: String) throws {
        let (model, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: path)))
        let directory = Reference.repository.appendingPathComponent("datasets")
        let mnist = directory.appendingPathComponent("mnist")
        let score = try FrechetScore(net: try MNISTFeatureNet.load(directory: directory), testImages: MNIST.load(.test, from: mnist))
        let floor = try score.floor(trainImages: MNIST.load(.train, from: mnist), count: images)
        print(String(format: "\nMNIST: Fréchet distance / floor (%d images; floor %.3f; mean over %d seeds), NFE, seconds for 64 images", images, floor, seeds.count))
        func run(_ name: String, _ settings: [String: RawValue]) throws -> (Double, Int, Double) {
            let e = SamplerRegistry.entry(name)!
            let sampler = e.make(try e.resolve(settings, for: model), model)
            var total = 0.0, nfe = 0
            for seed in seeds {
                let out = try SamplingRun(sampler: sampler, count: images, seed: seed, shape: model.sampleShape, threads: 2).run(model, shape: model.sampleShape)
                total += try score.distance(out.x) / floor
                nfe = out.nfe
            }
            let start = Date()
            _ = try SamplingRun(sampler: sampler, count: 64, seed: 1, shape: model.sampleShape, threads: 2).run(model, shape: model.sampleShape)
            return (total / Double(seeds.count), nfe, Date().timeIntervalSince(start))
        }
        for (name, settings, label) in Self.references where name != "em" {
            let (q, nfe, s) = try run(name, settings)
            print(String(format: "  %@ %6.2f  (NFE %d, %.2f s)", label.padding(toLength: 18, withPad: " ", startingAt: 0), q, nfe, s))
        }
        for (k, (_, _, label)) in configurations(budgets[0]).enumerated() {
            var line = "  " + label.padding(toLength: 18, withPad: " ", startingAt: 0)
            for b in budgets {
                let (name, settings, _) = configurations(b)[k]
                let (q, nfe, s) = try run(name, settings)
                line += String(format: " %6.2f (%3d, %.2f s)", q, nfe, s)
            }
            print(line)
            fflush(nil)  // each row as it is measured, also into a file
        }
    }
}
