import Foundation
import ScoreEngine

/// `score-bench colorize --model CKPT [--images 4] [--n 4] [--out docs/colorized.png]`: coloured MNIST test
/// images made grey (the mean of their channels) and colorized by a colour model with predictor–corrector:
/// one row per image (the original, its grey level, n colorizations), and how exactly the grey level is kept.
struct ColorizationExample {
    let model: String
    let images: Int
    let n: Int
    let out: String

    func run() throws {
        let (source, _) = try ScoreModel.load(checkpoint: Data(contentsOf: URL(fileURLWithPath: model)))
        let originals = try BuiltinDatasets.load("colored_mnist_test", size: 0, seed: 0, directory: Reference.repository.appendingPathComponent("datasets"))!
            .rows(0..<images)
        guard let entry = SamplerRegistry.entry("pc"), let pc = entry.make(try entry.resolve([:], for: source), source) as? any InpaintingSampler else { return }
        let hw = 784
        var tiles: [Tensor] = [], worst: Float = 0, clipped = 0
        let start = Date()
        for k in 0..<images {
            let grey = Tensor(shape: [1, 28, 28], scalars: (0..<hw).map { p in (0..<3).reduce(Float(0)) { $0 + originals.scalars[(k * 3 + $1) * hw + p] } / 3 })
            let x = try SamplingRun(sampler: pc.inpainting(Inpainting.colorization(grey: grey)), count: n, seed: UInt64(k), chunkSize: n, threads: 2)
                .run(source, shape: [3, 28, 28]).x
            for i in 0..<n {
                for p in 0..<hw {
                    let c = (0..<3).map { x.scalars[(i * 3 + $0) * hw + p] }
                    worst = max(worst, abs(c.reduce(0, +) / 3 - grey.scalars[p]))
                    if c.contains(where: { $0 < 0 || $0 > 1 }) { clipped += 1 }
                }
            }
            tiles.append(originals.rows(k..<(k + 1)))
            tiles.append(Tensor(shape: [1, 3, 28, 28], scalars: grey.scalars + grey.scalars + grey.scalars))
            tiles.append(x)
        }
        let seconds = Date().timeIntervalSince(start)
        try Data(PNG.grid(Tensor.concatenateRows(tiles), columns: n + 2, scale: 2)).write(to: URL(fileURLWithPath: out))
        print(String(format: "%d images × %d colorizations (pc, 500 steps) in %.1f s; largest |channel mean − grey| %.2e; %d of %d pixels with a channel outside [0, 1] (clamped in 8-bit output)",
                     images, n, seconds, worst, clipped, images * n * hw))
        print("wrote \(out): per row the original, its grey level, \(n) colorizations")
    }
}
