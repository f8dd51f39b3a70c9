import Dispatch
import Foundation
import Dispatch
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
case "fwdmicro": fwdMicro()
case "convmicro": convMicro()
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
    print("usage: score-bench toy [--repeats N] [--no-reference] | scorenet [--repeats N] [--steps S] | quality [--data NAME] [--seed S] | presets | bpd --model CKPT")
    exit(2)
}

func convMicro() {
    var r = Philox(seed: 1)
    func time(_ body: () -> Void) -> Double {
        for _ in 0..<2 { body() }
        var best = Double.infinity
        for _ in 0..<5 { let t = Date(); for _ in 0..<5 { body() }; best = min(best, Date().timeIntervalSince(t) / 5) }
        return best * 1000
    }
    let nb = Int(ProcessInfo.processInfo.environment["NB"] ?? "32")!
    let geos: [(String, ConvGeometry, Bool)] = [
        ("conv1", ConvGeometry(inChannels: 1, outChannels: 32, kernel: 3, stride: 1, inH: 28, inW: 28), false),
        ("conv2", ConvGeometry(inChannels: 32, outChannels: 64, kernel: 3, stride: 2, inH: 26, inW: 26), false),
        ("conv3", ConvGeometry(inChannels: 64, outChannels: 128, kernel: 3, stride: 2, inH: 12, inW: 12), false),
        ("conv4", ConvGeometry(inChannels: 128, outChannels: 256, kernel: 3, stride: 2, inH: 5, inW: 5), false),
        ("tconv4", .transposed(inChannels: 256, outChannels: 128, kernel: 3, stride: 2, inH: 2, inW: 2), true),
        ("tconv3", .transposed(inChannels: 256, outChannels: 64, kernel: 3, stride: 2, outputPadding: 1, inH: 5, inW: 5), true),
        ("tconv2", .transposed(inChannels: 128, outChannels: 32, kernel: 3, stride: 2, outputPadding: 1, inH: 12, inW: 12), true),
        ("tconv1", .transposed(inChannels: 64, outChannels: 1, kernel: 3, stride: 1, inH: 26, inW: 26), true),
    ]
    for (name, g, adj) in geos {
        let x = r.gaussian([nb, g.inChannels, g.inH, g.inW]), y = r.gaussian([nb, g.outChannels, g.outH, g.outW])
        let w = r.gaussian(g.weightShape)
        let flops = 2.0 * Double(nb * g.outH * g.outW * g.outChannels * g.inChannels * 9)
        let nl = nb * g.outH * g.outW
        let a = [Float](repeating: 1, count: g.outChannels * g.inChannels * 9)
        let bm = [Float](repeating: 1, count: g.inChannels * 9 * nl)
        var c = [Float](repeating: 0, count: max(g.outChannels * nl, g.inChannels * 9 * nl))
        let fwd = adj ? time { _ = Tensor.convAdjoint(y, w, g) } : time { _ = Tensor.conv(x, w, g) }
        let gemm = time {
            a.withUnsafeBufferPointer { pa in bm.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                if adj {
                    Kernels.gemm(transA: true, transB: false, m: g.inChannels * 9, n: nl, k: g.outChannels, pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                } else {
                    Kernels.gemm(transA: false, transB: false, m: g.outChannels, n: nl, k: g.inChannels * 9, pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                }
            }}}
        }
        let wgrad = time { _ = Tensor.convWeight(x, y, g) }
        let other = adj ? time { _ = Tensor.conv(x, w, g) } : time { _ = Tensor.convAdjoint(y, w, g) }
        print(String(format: "%@  fwd %.3f ms (%.0f GF/s)  gemm-only %.3f ms (%.0f GF/s)  wgrad %.3f (%.0f)  other %.3f (%.0f)", name, fwd, flops / fwd / 1e6, gemm, flops / gemm / 1e6, wgrad, flops / wgrad / 1e6, other, flops / other / 1e6))
    }
}

func fwdMicro() {
    let model = ScoreModel(architecture: .unet(.init()), schedule: .sde(VESDE(sigmaMin: 0.01, sigmaMax: 22)), seed: 0)
    var rng = Philox(seed: 1)
    let x = rng.gaussian([64, 1, 28, 28])
    let t = [Double](repeating: 0.5, count: 64)
    @Sendable func forward(_ rows: Tensor, _ tt: [Double]) { _ = model.score(Tape(recording: false).constant(rows), t: tt) }
    for chunk in [4, 8, 16, 32] {
        let per = 32 / chunk
        let parts = (0..<(64 / chunk)).map { x.rows($0 * chunk ..< ($0 + 1) * chunk) }
        let tt = Array(t[0..<chunk])
        for _ in 0..<3 { forward(parts[0], tt) }
        var best = Double.infinity, bestOne = Double.infinity
        for _ in 0..<5 {
            var start = Date()
            for _ in 0..<5 {
                DispatchQueue.concurrentPerform(iterations: 2) { th in for k in 0..<per { forward(parts[th * per + k], tt) } }
            }
            best = min(best, Date().timeIntervalSince(start) / 5 * 1000)
            start = Date()
            for _ in 0..<5 { for k in 0..<(2 * per) { forward(parts[k], tt) } }
            bestOne = min(bestOne, Date().timeIntervalSince(start) / 5 * 1000)
        }
        print(String(format: "chunk %d: 64 images on 2 threads %.1f ms, on 1 thread %.1f ms", chunk, best, bestOne))
    }
}
