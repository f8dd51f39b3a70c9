import Foundation
import ScoreEngine

/// The seed tutorials' 2-D recipes, as ../shared/bench/torch_toy2d.py and jax_toy2d.py run them, through the
/// engine's own training and sampling paths:
/// 1. exact score matching on the swiss roll (1000 points), MLP 2-64-64-64-2 LogSigmoid, Adam 3e-4, batch 32;
/// 2. denoising score matching with σ = 0.1, MLP 2-32-32-32-2 ReLU, Adam 1e-3, batch 100;
/// 3. Langevin MCMC with the first net, 1000 particles × 1000 steps, ε = 1e-3.
/// Each figure is the median of `repeats` runs; the reference scripts run `repeats` times in the same session.
struct ToyBench {
    let repeats: Int
    let reference: Bool

    func recipe(_ objective: String, _ settings: [String: JSONValue] = [:], hidden: [Int], activation: Pointwise, lr: Double,
                batch: Int, steps: Int) -> TrainingRecipe {
        var r = TrainingRecipe()
        r.setObjective(objective, settings)
        r.hidden = hidden
        r.activation = activation
        r.learningRate = lr
        r.batchSize = batch
        r.steps = steps
        r.ema = 0
        r.gradClip = 0
        r.lrSchedule = .constant
        return r
    }

    /// Steps per second over `steps` steps after 20 warm-up steps.
    func stepsPerSecond(_ recipe: TrainingRecipe, _ data: Tensor) -> (Double, Trainer) {
        let t = try! Trainer(recipe: recipe, data: data)
        t.threads = Int(ProcessInfo.processInfo.environment["TRAIN_THREADS"] ?? "2") ?? 2
        for _ in 0..<20 { t.trainStep() }
        let start = Date()
        for _ in 0..<recipe.steps { t.trainStep() }
        return (Double(recipe.steps) / Date().timeIntervalSince(start), t)
    }

    func run() {
        var rng = Philox(seed: 0)
        let data = Toy2D.swissRoll.sample(1000, rng: &rng)
        var exact: [Double] = [], dsm: [Double] = [], langevin: [Double] = []
        let dsmRecipe = recipe("dsm", ["sigma": 0.1], hidden: [32, 32, 32], activation: .relu, lr: 1e-3, batch: 100, steps: 5000)
        print("score-bench toy: \(repeats) runs each, OpenBLAS threads \(Kernels.blasThreads)")
        for _ in 0..<repeats {
            let (e, trainer) = stepsPerSecond(recipe("exact", hidden: [64, 64, 64], activation: .logSigmoid,
                                                     lr: 3e-4, batch: 32, steps: 2000), data)
            exact.append(e)
            dsm.append(stepsPerSecond(dsmRecipe, data).0)
            let model = trainer.samplingModel
            let sampler = LangevinDynamics(stepSize: 1e-3, steps: 1000, start: .uniform(low: -1, high: 1))
            let start = Date()
            _ = try! SamplingRun(sampler: sampler, count: 1000, seed: 4, chunkSize: 500).run(model, shape: [2])
            langevin.append(Date().timeIntervalSince(start))
        }
        var jax: [[Double]] = [], torch: [[Double]] = []
        if reference {
            for _ in 0..<repeats {
                if let o = Reference.run("jax_toy2d.py") {
                    jax.append([Reference.number(after: "exact-SM swiss roll (jax jit):", in: o),
                                Reference.number(after: "DSM sigma=0.1 (jax jit):", in: o),
                                Reference.number(after: "Langevin 1000x1000 (jax jit per step):", in: o)].map { $0 ?? .nan })
                }
                if let o = Reference.run("torch_toy2d.py") {
                    torch.append([Reference.number(after: "exact-SM swiss roll:", in: o),
                                  Reference.number(after: "DSM sigma=0.1:", in: o),
                                  Reference.number(after: "Langevin 1000x1000:", in: o)].map { $0 ?? .nan })
                }
            }
        }
        let ours = [median(exact), median(dsm), median(langevin)]
        let names = ["exact SM (steps/s)", "DSM σ=0.1 (steps/s)", "Langevin 1000×1000 (s)"]
        print("recipe                      scored      JAX   PyTorch   ×JAX  ×PyTorch")
        for k in 0..<3 {
            let j = jax.isEmpty ? Double.nan : median(jax.map { $0[k] })
            let t = torch.isEmpty ? Double.nan : median(torch.map { $0[k] })
            // Ratios are speed-ups: steps/s over steps/s, or time over time for Langevin.
            let rj = k < 2 ? ours[k] / j : j / ours[k], rt = k < 2 ? ours[k] / t : t / ours[k]
            print(String(format: "%@ %8.2f %8.2f %9.2f %6.2f %9.2f", names[k].padding(toLength: 25, withPad: " ", startingAt: 0),
                         ours[k], j, t, rj, rt))
        }
        print("runs: scored exact \(exact.map { Int($0) }), dsm \(dsm.map { Int($0) }), langevin \(langevin.map { String(format: "%.2f", $0) })")
        if !jax.isEmpty { print("runs: jax \(jax.map { $0.map { String(format: "%.2f", $0) } })") }
        if !torch.isEmpty { print("runs: torch \(torch.map { $0.map { String(format: "%.2f", $0) } })") }
    }
}
