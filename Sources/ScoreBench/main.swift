import Dispatch
import Foundation
import Synchronization
import ScoreEngine

/// score-bench: side-by-side measurements against the reference recipes in ../shared/bench.
///   score-bench toy [--repeats N] [--no-reference]     the 2-D recipes: exact SM, DSM σ = 0.1, Langevin
///   score-bench scorenet [--repeats N] [--steps S] [--no-reference]   the MNIST ScoreNet: train images/s, forward ms
///   score-bench quality [--data NAME …] [--seed S]      default recipe per data set: sample quality vs the floor
///   score-bench presets                                  every 2-D preset with its sampler: sample quality vs the floor
///   score-bench samplers [--data NAME …] [--mnist-model CKPT] [--images N] [--budgets 10,20,50] [--seeds 0,1,2]
///                                                        quality against NFE for every sampler (points; MNIST FD)
///   score-bench mnist-features [--epochs N] [--lr L]     trains the MNIST feature network of the Fréchet distance
///   score-bench guidance --mnist-model CKPT --classifier CKPT [--n 100] [--scales 1,2,4] [--sampler ddim] [--grid PNG]
///                                                        class-conditional MNIST: recognition rate per digit
///   score-bench colorize --model CKPT [--images 4] [--n 4] [--out PNG]   coloured MNIST made grey, colorized
///   score-bench conv-layers [--batch 32]                 the ScoreNet's convolutions one by one, one thread: each
///                                                        product alone beside the whole operation and its gradients;
///                                                        the fused GroupNorm + SiLU block at each level
Engine.configure()
let all = Array(CommandLine.arguments.dropFirst())
let command = all.first ?? "toy"
let args = Array(all.dropFirst())
func option(_ name: String, _ args: [String] = args) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
func values(_ name: String, _ args: [String] = args) -> [String] {
    args.indices.filter { args[$0] == name && $0 + 1 < args.count }.map { args[$0 + 1] }
}
let flags = Set(args)
switch command {
case "conv-layers":
    ScoreNetProfile.convolutionLayers(batch: Int(option("--batch") ?? "32") ?? 32)
case "toy":
    ToyBench(repeats: Int(option("--repeats") ?? "5") ?? 5, reference: !flags.contains("--no-reference")).run()
case "scorenet":
    ScoreNetBench(repeats: Int(option("--repeats") ?? "3") ?? 3, steps: Int(option("--steps") ?? "60") ?? 60,
                  reference: !flags.contains("--no-reference")).run()
case "bpd":
    // bits/dim of a checkpoint on MNIST test images (Hutchinson, dequantised), rows split over two threads.
    guard let path = option("--model") else { print("score-bench bpd --model CKPT [--n 64] [--rtol 1e-5]"); exit(2) }
    let (model, _) = try! ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: path)))
    let n = Int(option("--n") ?? "64")!, tol = Double(option("--rtol") ?? "1e-5")!
    let test = try! MNIST.load(.test, from: Reference.repository.appendingPathComponent("datasets/mnist"))
    let x = Dequantization.apply(test.rows(0..<n), seed: 0)
    let est = LikelihoodEstimator(sde: model.schedule.sde!, solver: ODESolver(method: .adaptive(rtol: tol, atol: tol)),
                                  divergence: .hutchinson(.rademacher))
    let start = Date()
    let parts = try! RowParallel.map(count: n, chunkSize: (n + 1) / 2, threads: 2, control: nil) { rows in
        try est.logLikelihood(model, x.rows(rows), seed: 0, first: rows.lowerBound, control: nil)
    }
    let all = parts.flatMap(\.logLikelihood)
    let bpd = LikelihoodEstimator.Result(logLikelihood: all, latent: .zeros([0]), nfe: 0).bitsPerDimension(dimension: 784, offset: Dequantization.offsetBits)
    let m = bpd.reduce(0, +) / Double(n), se = (bpd.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n - 1) / Double(n)).squareRoot()
    print(String(format: "bits/dim %.3f ± %.3f (n %d, NFE %d, %.0f s)", m, se, n, parts.map(\.nfe).max() ?? 0, Date().timeIntervalSince(start)))
case "quality":
    let names = values("--data")
    QualityTable(datasets: names.isEmpty ? Toy2D.allCases : names.compactMap(Toy2D.init(rawValue:)),
                 seed: UInt64(option("--seed") ?? "0") ?? 0).run()
case "mnist-features":
    // Trains the feature network of the MNIST Fréchet distance and writes datasets/mnist/features.safetensors.
    let dir = Reference.repository.appendingPathComponent("datasets/mnist")
    let images = try! MNIST.load(.train, from: dir), labels = try! MNIST.labels(.train, from: dir)
    let test = try! MNIST.load(.test, from: dir), testLabels = try! MNIST.labels(.test, from: dir)
    let epochs = Int(option("--epochs") ?? "5")!, lr = Float(option("--lr") ?? "3e-3")!
    var net = MNISTFeatureNet(seed: 0)
    let start = Date()
    net.train(images, labels: labels, epochs: epochs, learningRate: lr) { e, loss in
        print(String(format: "epoch %d: loss %.4f (%.0f s)", e, loss, Date().timeIntervalSince(start)))
    }
    let accuracy = try! net.accuracy(test, labels: testLabels)
    print(String(format: "test accuracy %.4f", accuracy))
    let out = option("--out") ?? dir.appendingPathComponent("features.safetensors").path
    try! net.checkpoint(metadata: ["epochs": String(epochs), "learning_rate": String(lr), "test_accuracy": String(format: "%.4f", accuracy),
                                   "command": "score-bench mnist-features --epochs \(epochs) --lr \(lr)"]).write(to: URL(fileURLWithPath: out))
    print("wrote \(out)")
case "samplers":
    let names = values("--data")
    try! SamplerTable(datasets: names.isEmpty ? [.swissRoll, .moons, .eightGaussians, .checkerboard] : names.compactMap(Toy2D.init(rawValue:)),
                      mnistModel: option("--mnist-model"), images: Int(option("--images") ?? "1000")!,
                      budgets: (option("--budgets") ?? "10,20,50").split(separator: ",").map { Int($0)! },
                      seeds: (option("--seeds") ?? "0").split(separator: ",").map { UInt64($0)! }).run()
case "presets":
    PresetTable().run()
case "colorize":
    guard let model = option("--model") else { print("score-bench colorize --model CKPT [--images 4] [--n 4] [--out PNG]"); exit(2) }
    try! ColorizationExample(model: model, images: Int(option("--images") ?? "4")!, n: Int(option("--n") ?? "4")!,
                             out: option("--out") ?? "colorized.png").run()
case "guidance":
    guard let model = option("--mnist-model"), let classifier = option("--classifier") else {
        print("score-bench guidance --mnist-model CKPT --classifier CKPT [--n 100] [--scales 1,2,4] [--sampler ddim] [--grid PNG]"); exit(2)
    }
    try! GuidanceBench(model: model, classifier: classifier, n: Int(option("--n") ?? "100")!,
                       scales: (option("--scales") ?? "1,2,4").split(separator: ",").map { Double($0)! },
                       samplerName: option("--sampler") ?? "ddim", grid: option("--grid")).run()
case "exact-only":
    var rng = Philox(seed: 0)
    let data = Toy2D.swissRoll.sample(1000, rng: &rng)
    var r = TrainingRecipe(); r.setObjective("exact"); r.hidden = [64, 64, 64]; r.activation = .logSigmoid; r.steps = 20000
    r.batchSize = 32; r.ema = 0; r.gradClip = 0; r.lrSchedule = .constant; r.learningRate = 3e-4
    r.steps = Int(option("--steps") ?? "20000")!
    let t = try! Trainer(recipe: r, data: data)
    t.threads = Int(option("--threads") ?? "2")!
    let start = Date()
    for _ in 0..<r.steps { t.trainStep() }
    print(Double(r.steps) / Date().timeIntervalSince(start))
case "spin":
    SpinBench.run()
case "langevin-only":
    var rng = Philox(seed: 0)
    let data = Toy2D.swissRoll.sample(1000, rng: &rng)
    var r = TrainingRecipe(); r.setObjective("exact"); r.hidden = [64, 64, 64]; r.activation = .logSigmoid; r.steps = 10
    let model = try! Trainer(recipe: r, data: data).samplingModel
    let sampler = LangevinDynamics(stepSize: 1e-3, steps: 1000, start: .uniform(low: -1, high: 1))
    for _ in 0..<3 {
        let start = Date()
        _ = try! SamplingRun(sampler: sampler, count: 1000, seed: 4, chunkSize: 500, threads: Int(option("--threads") ?? "2")!).run(model, shape: [2])
        print(Date().timeIntervalSince(start))
    }
default:
    print("usage: score-bench toy [--repeats N] [--no-reference] | scorenet [--repeats N] [--steps S] | conv-layers [--batch N] | quality [--data NAME] [--seed S] | presets | bpd --model CKPT")
    exit(2)
}

