import Foundation
import ScoreEngine

/// `score-bench guidance --mnist-model CKPT --classifier CKPT [--n 100] [--scales 1,2,4] [--sampler ddim]
/// [--grid docs/mnist-guided.png]`: class-conditional MNIST. For each guidance scale, n samples of every digit
/// with the model's default fast sampler guided by the noise-conditional classifier, recognised by the MNIST
/// feature network (an independent classifier, trained on clean images and never used by the guidance): the
/// recognition rate per digit, the time, and a PNG grid of the first ten of each digit.
struct GuidanceBench {
    let model: String
    let classifier: String
    let n: Int
    let scales: [Double]
    let samplerName: String
    let grid: String?

    func run() throws {
        let (score, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: model)))
        let (guide, meta) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: classifier)))
        let net = try MNISTFeatureNet.load(directory: Reference.repository.appendingPathComponent("datasets"))
        if let acc = meta["accuracy"] { print("classifier accuracy on noisy test images: \(acc)") }
        guard let entry = SamplerRegistry.entry(samplerName) else { print("unknown sampler \(samplerName)"); exit(2) }
        let sampler = entry.make(try entry.resolve([:], for: score), score)
        let digits = Array(0..<10)
        print("MNIST, \(n) samples per digit, sampler \(samplerName) (its defaults), recognised by the feature network")
        print("scale   " + digits.map { String(format: "%5d", $0) }.joined() + "   mean   s/64")
        for scale in scales {
            let labels = digits.flatMap { [Int](repeating: $0, count: n) }
            let guided = GuidedScore(base: score, classifier: guide, labels: labels, scale: scale)
            let start = Date()
            let x = try SamplingRun(sampler: sampler, count: labels.count, seed: 0, shape: score.sampleShape, threads: 2)
                .run(guided, shape: score.sampleShape).x
            let seconds = Date().timeIntervalSince(start)
            let clamped = Tensor(shape: x.shape, scalars: x.scalars.map { (min(max($0, 0), 1) * 255).rounded() / 255 })
            let tape = Tape(recording: false)
            let logits = net.logits(tape.constant(clamped), net.parameters.bind(to: tape, training: false)).value
            var rates: [Double] = []
            for d in digits {
                var right = 0
                for i in (d * n)..<((d + 1) * n) {
                    let row = logits.scalars[(i * 10)..<((i + 1) * 10)]
                    if row.firstIndex(of: row.max()!)! - i * 10 == d { right += 1 }
                }
                rates.append(Double(right) / Double(n))
            }
            let mean = rates.reduce(0, +) / 10
            print(String(format: "%5.1f   ", scale) + rates.map { String(format: "%5.2f", $0) }.joined()
                  + String(format: "   %.3f  %.2f", mean, seconds * 64 / Double(labels.count)))
            if let grid, scale == scales.first {
                let shown = digits.flatMap { d in (0..<min(10, n)).map { d * n + $0 } }
                try Data(PNG.grid(clamped.rows(at: shown), columns: min(10, n), scale: 2)).write(to: URL(fileURLWithPath: grid))
                print("wrote \(grid) (scale \(scale))")
            }
        }
    }
}
