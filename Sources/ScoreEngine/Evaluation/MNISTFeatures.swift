import Dispatch
import Foundation
import Synchronization

/// A small convolutional classifier of 28×28 grey digits, trained by the engine on MNIST's training images, whose
/// pooled features stand in for Inception's in FID (Heusel et al. 2017), the way the MNIST FIDs of the literature
/// use an MNIST network: four 3×3 convolutions with SiLU (1→16 at stride 1, 16→32, 32→32, 32→64 at stride 2,
/// padding 1: 28 → 14 → 7 → 4), global average pooling to 64 features, a linear layer to the 10 classes.
/// `FrechetScore` compares samples with the test set through these features.
public struct MNISTFeatureNet: Sendable {
    public static let featureCount = 64
    public static let format = "scored-mnist-features/1"

    public var parameters: ParameterSet
    let convs: [Conv2d]
    let head: Linear

    public init(seed: UInt64 = 0) {
        var p = ParameterSet()
        var rng = Philox(seed: seed).derived(RandomPurpose.initialization)
        let widths = [1, 16, 32, 32, 64]
        convs = (0..<4).map { i in
            Conv2d("conv\(i + 1)", widths[i], widths[i + 1], kernel: 3, stride: i == 0 ? 1 : 2, padding: 1, in: &p, rng: &rng)
        }
        head = Linear("head", MNISTFeatureNet.featureCount, 10, in: &p, rng: &rng)
        parameters = p
    }

    /// The pooled features [n, 64] of images [n, 1, 28, 28] in [0, 1] (centred to [−½, ½] on input).
    public func features(_ x: Var, _ p: [Var]) -> Var {
        var h = x - 0.5
        for conv in convs { h = conv(h, p).apply(.silu) }
        let n = h.shape[0], c = h.shape[1], area = h.shape[2] * h.shape[3]
        return (h.sum(to: [n, c, 1, 1]) * (1 / Float(area))).reshaped([n, c])
    }

    public func logits(_ x: Var, _ p: [Var]) -> Var { head(features(x, p), p) }

    /// Mean cross-entropy of the labels.
    public func loss(_ x: Var, labels: [Int], _ p: [Var]) -> Var { crossEntropy(logits(x, p), labels: labels) }

    /// Features of many images, in batches over `threads` threads (no gradients).
    public func features(of images: Tensor, threads: Int = 2) throws -> Tensor {
        let n = images.shape[0]
        let parts = try RowParallel.map(count: n, chunkSize: 250, threads: threads, control: nil) { rows in
            let tape = Tape(recording: false)
            return self.features(tape.constant(images.rows(rows)), self.parameters.bind(to: tape, training: false)).value
        }
        return Tensor.concatenateRows(parts)
    }

    /// The fraction of images whose largest logit is their label.
    public func accuracy(_ images: Tensor, labels: [Int], threads: Int = 2) throws -> Double {
        let logits = try RowParallel.map(count: images.shape[0], chunkSize: 250, threads: threads, control: nil) { rows in
            let tape = Tape(recording: false)
            return self.logits(tape.constant(images.rows(rows)), self.parameters.bind(to: tape, training: false)).value
        }
        let z = Tensor.concatenateRows(logits)
        var right = 0
        for i in 0..<labels.count {
            let row = (0..<10).map { z.scalars[i * 10 + $0] }
            if row.firstIndex(of: row.max()!) == labels[i] { right += 1 }
        }
        return Double(right) / Double(labels.count)
    }

    /// Trains on images and labels with Adam (cosine decay of the learning rate, batch 128), the batch split in
    /// two shards on two threads; `progress` after each epoch with its mean loss.
    public mutating func train(_ images: Tensor, labels: [Int], epochs: Int, learningRate: Float = 3e-3, seed: UInt64 = 0,
                               progress: (Int, Double) -> Void = { _, _ in }) {
        let n = images.shape[0], batch = 128, perEpoch = n / batch
        var adam = Adam(learningRate: learningRate)
        adam.decaySteps = epochs * perEpoch
        var rng = Philox(seed: seed).derived(RandomPurpose.minibatches)
        nonisolated(unsafe) let shards = [Tape(), Tape()]  // each used by one thread
        for epoch in 0..<epochs {
            var total = 0.0
            for _ in 0..<perEpoch {
                let indices = (0..<batch).map { _ in rng.index(below: n) }
                let net = self
                let results = Mutex<[Int: ([Tensor?], Float)]>([:])
                DispatchQueue.concurrentPerform(iterations: 2) { s in
                    let rows = Array(indices[(s * batch / 2)..<((s + 1) * batch / 2)])
                    let tape = shards[s]
                    tape.reset()
                    let p = net.parameters.bind(to: tape, training: true)
                    let l = net.loss(tape.constant(images.rows(at: rows)), labels: rows.map { labels[$0] }, p) * 0.5
                    let g = tape.gradients(of: l, wrt: p).map { Optional($0.value) }
                    results.withLock { $0[s] = (g, l.value.scalar) }
                    tape.reset()
                }
                let r = results.withLock { $0 }
                var ema: EMA? = nil
                adam.update(&parameters, shards: [r[0]!.0, r[1]!.0], ema: &ema)
                total += Double(r[0]!.1 + r[1]!.1)
            }
            progress(epoch + 1, total / Double(perEpoch))
        }
    }

    /// The weights as safetensors (PyTorch names: conv1.weight …, head.weight).
    public func checkpoint(metadata extra: [String: String] = [:]) -> Data {
        var meta = extra
        meta["format"] = MNISTFeatureNet.format
        return Safetensors.write(parameters.named, metadata: meta)
    }

    public static func load(_ data: Data) throws -> MNISTFeatureNet {
        let file = try Safetensors.read(data)
        guard file.metadata["format"] == format else { throw ScoreModel.CheckpointError(description: "not a \(format) file") }
        var net = MNISTFeatureNet()
        try net.parameters.load(from: file.tensors)
        return net
    }

    /// The shipped weights: `mnist/features.safetensors` in a data-sets directory.
    public static func load(directory: URL) throws -> MNISTFeatureNet {
        try load(Data(contentsOf: directory.appendingPathComponent("mnist/features.safetensors")))
    }
}

/// FID's protocol with the MNIST feature network: the Fréchet distance between the features of n images and
/// those of the 10 000 test images, beside the floor — the distance of n real training images to the same
/// test set (the statistic is biased upwards at small n, so only the ratio to the floor at the same n means
/// much).
public struct FrechetScore: Sendable {
    public let net: MNISTFeatureNet
    public let reference: FeatureStatistics

    public init(net: MNISTFeatureNet, testImages: Tensor) throws {
        self.net = net
        reference = FeatureStatistics(try net.features(of: testImages))
    }

    /// The distance of images as they are delivered: clamped to [0, 1] and rounded to 8-bit levels (as PGM and
    /// PNG carry them), so that a sampler is scored on what a client receives.
    public func distance(_ images: Tensor) throws -> Double {
        let delivered = images.mapScalars { (Swift.min(Swift.max($0.isNaN ? 0 : $0, 0), 1) * 255).rounded() / 255 }
        return FeatureStatistics(try net.features(of: delivered)).frechetDistance(to: reference)
    }

    /// The floor at n: real training images (`count` of them, from a seeded draw) against the test set.
    public func floor(trainImages: Tensor, count: Int, seed: UInt64 = 0) throws -> Double {
        var rng = Philox(seed: seed).derived(RandomPurpose.evaluationData)
        let rows = (0..<count).map { _ in rng.index(below: trainImages.shape[0]) }
        return try distance(trainImages.rows(at: rows))
    }
}
