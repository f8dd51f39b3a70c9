import Foundation
import ScoreEngine
import Testing

/// The Fréchet distance: exact on Gaussians whose answer is known in closed form, and, with the shipped MNIST
/// feature network, ordered as a measure of image quality must be: real images are closer to the test set
/// than the same images blurred, and those closer than noise.
@Suite struct FrechetTests {
    static let datasets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("datasets")

    /// Rows drawn from N(μ, diag(v)).
    static func draws(_ n: Int, mean: [Double], variances: [Double], seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed)
        let d = mean.count
        return Tensor(shape: [n, d]) { p, _ in
            for i in 0..<n { for a in 0..<d { p[i * d + a] = Float(mean[a] + variances[a].squareRoot() * Double(rng.gaussian())) } }
        }
    }

    @Test func closedForms() {
        // Between N(μ₁, diag(a)) and N(μ₂, diag(b)): |μ₁ − μ₂|² + Σ (√a − √b)² = 5 + 2. From the statistics of
        // 200 000 draws each: the sample means' errors (standard error √(v/n) ≤ 0.0045) move |μ₁ − μ₂|² by about
        // 2|Δμ|·0.0063 ≈ 0.03 and the variances less; 0.1 is over three such errors.
        let a = FeatureStatistics(Self.draws(200_000, mean: [0, 1, 2], variances: [1, 4, 0.25], seed: 1))
        let b = FeatureStatistics(Self.draws(200_000, mean: [1, 1, 0], variances: [4, 1, 0.25], seed: 2))
        let exact: Double = 7
        let d = a.frechetDistance(to: b)
        #expect(abs(d - exact) < 0.1, "\(d) vs \(exact)")
        #expect(abs(a.frechetDistance(to: a)) < 1e-9)
        #expect(abs(d - b.frechetDistance(to: a)) < 1e-6)
    }

    @Test func orderedOnMNIST() throws {
        let net = try MNISTFeatureNet.load(directory: Self.datasets)
        let mnist = Self.datasets.appendingPathComponent("mnist")
        let test = try MNIST.load(.test, from: mnist)
        #expect(try net.accuracy(test, labels: try MNIST.labels(.test, from: mnist)) > 0.98)
        let score = try FrechetScore(net: net, testImages: test)
        let train = try MNIST.load(.train, from: mnist)
        let real = train.rows(0..<1000)
        // A 3×3 box blur, and uniform noise.
        var blurred = real
        for i in 0..<1000 {
            for y in 0..<28 {
                for x in 0..<28 {
                    var s: Float = 0, k: Float = 0
                    for dy in -1...1 { for dx in -1...1 where (0..<28).contains(y + dy) && (0..<28).contains(x + dx) {
                        s += real.scalars[i * 784 + (y + dy) * 28 + x + dx]; k += 1
                    } }
                    blurred.scalars[i * 784 + y * 28 + x] = s / k
                }
            }
        }
        var rng = Philox(seed: 3)
        let noise = rng.uniform([1000, 1, 28, 28])
        let (r, b, n) = (try score.distance(real), try score.distance(blurred), try score.distance(noise))
        #expect(r < b && b < n, "real \(r), blurred \(b), noise \(n)")
        // The floor, real images at the same n, is below the blurred ones too.
        #expect(try score.floor(trainImages: train, count: 1000) < b)
    }
}
