import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score samples: a point cloud by its energy distance and sliced W1 to fresh data of a built-in set, MNIST-like images by their Fréchet distance to the test set in the features of a small MNIST classifier; each beside the floor of real data at the same size.")

    @Option(help: "Samples: a JSON document of `scored sample` (points or images), or images as PGM/IDX (gzip or not).") var samples: String
    @Option(help: "Points: the built-in data set to compare with (default swiss_roll). Images are compared with mnist_test.") var dataset: String?
    @Option(help: "Seed of the fresh data draws.") var seed: UInt64 = 12345
    @Option(help: "Points: independent fresh references to average over.") var replicates = 8

    func run() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: samples)))
        var format = DataFormat(fileName: samples)
        var x: Tensor
        if format == .json, let doc = try? JSONValue(parsing: bytes), let shape = doc["shape"]?.array?.compactMap({ $0.number.map { Int($0) } }),
           shape.count == 3 {
            let rows = try PointCloud.parseJSON(bytes, limits: .init(maxPoints: 1_000_000, maxDimension: 1 << 16))
            x = rows.reshaped([rows.shape[0]] + shape)
            format = .images
        } else {
            x = try format.read(bytes, imageLimits: .init(maxImages: 1_000_000, maxSide: 4096))
        }
        if format == .images { try frechet(x) } else { try energy(x) }
    }

    func energy(_ x: Tensor) throws {
        let name = dataset ?? "swiss_roll"
        guard let toy = Toy2D(rawValue: name) else {
            throw ValidationError("unknown data set \(name) (\(Toy2D.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var rng = Philox(seed: seed).derived(RandomPurpose.evaluationData)
        let r = SampleQuality.report(samples: x, replicates: replicates) { toy.sample($0, rng: &rng) }
        print(String(format: "samples %d vs fresh %@ (means over %d fresh references, ± standard error)", x.shape[0], name, replicates))
        print(String(format: "energy distance      %.5f ± %.5f   data floor %.5f ± %.5f   ratio %.2f",
                     r.energyDistance, r.energyDistanceSE, r.energyDistanceFloor, r.energyDistanceFloorSE,
                     r.energyDistance / r.energyDistanceFloor))
        print(String(format: "sliced Wasserstein-1 %.5f ± %.5f   data floor %.5f ± %.5f   ratio %.2f",
                     r.slicedWasserstein1, r.slicedWasserstein1SE, r.slicedWasserstein1Floor, r.slicedWasserstein1FloorSE,
                     r.slicedWasserstein1 / r.slicedWasserstein1Floor))
    }

    func frechet(_ x: Tensor) throws {
        guard dataset == nil || dataset == "mnist_test" else { throw ValidationError("images are compared with mnist_test") }
        guard x.rank == 4, Array(x.shape.dropFirst()) == [1, 28, 28] else {
            throw ValidationError("the Fréchet distance takes 28×28 grey images (n of them, not a grid); these are \(Array(x.shape.dropFirst()))")
        }
        guard x.shape[0] >= 2 else { throw ValidationError("the Fréchet distance needs at least two images") }
        let directory = URL(fileURLWithPath: try ServiceConfig.load(file: nil).datasetsDir)
        let weights = directory.appendingPathComponent("mnist/features.safetensors")
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw ValidationError("the MNIST feature network is not at \(weights.path): run from the repository or set SCORED_DATASETS_DIR to its datasets directory")
        }
        let net = try MNISTFeatureNet.load(directory: directory)
        let score = try FrechetScore(net: net, testImages: MNIST.load(.test, from: directory.appendingPathComponent("mnist")))
        let d = try score.distance(x)
        let floor = try score.floor(trainImages: MNIST.load(.train, from: directory.appendingPathComponent("mnist")), count: x.shape[0], seed: seed)
        print(String(format: "samples %d vs the 10000 MNIST test images, in the features of the MNIST classifier", x.shape[0]))
        print(String(format: "Fréchet distance %.3f   floor %.3f (%d real training images)   ratio %.2f", d, floor, x.shape[0], d / floor))
    }
}
