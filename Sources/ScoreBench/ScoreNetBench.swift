import Dispatch
import Foundation
import ScoreEngine

/// The seed notebook's ScoreNet recipe (VE σ 0.01…22, DSM, Adam 1e-4, batch 32, no EMA or clipping) on MNIST
/// beside `../shared/bench/torch_scorenet.py`: training images/s at batch 32, and forward ms per NFE at
/// batch 64 (the engine's sampler runs a batch as chunks on its threads; both one chunk on one thread and
/// two chunks of 32 on two threads are printed, the latter being how `SamplingRun` uses two cores).
struct ScoreNetBench {
    let repeats: Int
    let steps: Int
    let reference: Bool

    func run() {
        let dir = Reference.repository.appendingPathComponent("datasets/mnist")
        let images: Tensor
        do { images = try MNIST.load(.train, from: dir) } catch { print("MNIST: \(error)"); return }
        var r = TrainingRecipe(kind: .images)
        r.learningRate = 1e-4; r.warmup = 0; r.lrSchedule = .constant; r.ema = 0; r.gradClip = 0; r.steps = 1_000_000
        let trainer = try! Trainer(recipe: r, data: images)
        print("ScoreNet: \(trainer.model.parameters.trainableScalarCount) parameters, batch 32, \(steps) timed steps × \(repeats)")
        for _ in 0..<5 { trainer.trainStep() }
        var train: [Double] = []
        for _ in 0..<repeats {
            let start = Date()
            for _ in 0..<steps { trainer.trainStep() }
            train.append(Double(steps * 32) / Date().timeIntervalSince(start))
        }
        let model = trainer.model
        var rng = Philox(seed: 1)
        let x = rng.gaussian([64, 1, 28, 28])
        let t = [Double](repeating: 0.5, count: 64)
        @Sendable func forward(_ rows: Tensor, _ tt: [Double]) { _ = model.score(Tape(recording: false).constant(rows), t: tt) }
        let halves = [x.rows(0..<32), x.rows(32..<64)]
        var one: [Double] = [], two: [Double] = []
        for _ in 0..<3 { forward(x, t) }
        for _ in 0..<repeats {
            var start = Date()
            for _ in 0..<10 { forward(x, t) }
            one.append(Date().timeIntervalSince(start) / 10 * 1000)
            start = Date()
            for _ in 0..<10 {
                DispatchQueue.concurrentPerform(iterations: 2) { forward(halves[$0], Array(t[0..<32])) }
            }
            two.append(Date().timeIntervalSince(start) / 10 * 1000)
        }
        let ours = median(train), fw = median(two)
        print(String(format: "scored   train %.1f images/s   forward batch 64: %.1f ms/NFE (2 threads), %.1f ms (1 thread)",
                     ours, fw, median(one)))
        ScoreNetProfile.run(images: images, model: model, trainRate: ours, forwardMillis: fw)
        guard reference else { return }
        // torch_scorenet.py reads uncompressed IDX.
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("scored-mnist-idx")
        try? FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let raw = tmp.appendingPathComponent("train-images.idx3-ubyte")
        if !FileManager.default.fileExists(atPath: raw.path) {
            let gz = Array(FileManager.default.contents(atPath: dir.appendingPathComponent(MNIST.fileName(.train)).path)!)
            FileManager.default.createFile(atPath: raw.path, contents: Data(try! Gzip.decompress(gz)))
        }
        var tTrain: [Double] = [], tForward: [Double] = []
        for _ in 0..<repeats {
            guard let out = Reference.run("torch_scorenet.py", [tmp.path, String(steps)]) else { return }
            if let v = Reference.number(after: "train:", in: out) { tTrain.append(v) }
            if let v = Reference.number(after: "forward batch64:", in: out) { tForward.append(v) }
        }
        let pt = median(tTrain), pf = median(tForward)
        print(String(format: "PyTorch  train %.1f images/s   forward batch 64: %.1f ms/NFE", pt, pf))
        print(String(format: "ratio    train %.2f×   forward %.2f× (medians of %d)", ours / pt, pf / fw, repeats))
    }
}
