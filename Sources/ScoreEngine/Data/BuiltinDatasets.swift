import Foundation

/// The built-in data sets, the same for the service and the command line: the 2-D generators (`Toy2D`, drawn
/// with the recipe's seed) and MNIST's training and test images (from a directory holding its IDX files).
public enum BuiltinDatasets {
    /// The MNIST splits by name.
    public static let images: [String: MNIST.Split] = ["mnist": .train, "mnist_test": .test]

    public static var names: [String] { Toy2D.allCases.map(\.rawValue) + ["mnist", "mnist_test"] }

    public static func kind(_ name: String) -> DataKind? {
        if Toy2D(rawValue: name) != nil { return .points }
        if images[name] != nil { return .images }
        return nil
    }

    public static func itemShape(_ name: String) -> [Int]? {
        guard let k = kind(name) else { return nil }
        return k == .points ? [2] : [1, 28, 28]
    }

    /// Items in a fixed set (MNIST); nil for the generators, which draw as many as asked.
    public static func count(_ name: String) -> Int? {
        images[name].map { $0 == .train ? 60_000 : 10_000 }
    }

    /// `size` points of a generator, drawn from the training-data stream of `seed`; or the MNIST split from
    /// `directory` (which holds `mnist/`). Nil if `name` is not built in.
    public static func load(_ name: String, size: Int, seed: UInt64, directory: URL) throws -> Tensor? {
        if let toy = Toy2D(rawValue: name) {
            var rng = Philox(seed: seed).derived(RandomPurpose.trainingData)
            return toy.sample(size, rng: &rng)
        }
        if let split = images[name] { return try MNIST.load(split, from: directory.appendingPathComponent("mnist")) }
        return nil
    }

    /// The number of classes of a built-in set with labels (MNIST's digits, the parts of some 2-D sets).
    public static func classes(_ name: String) -> Int? {
        if let toy = Toy2D(rawValue: name) { return toy.classes }
        return images[name] != nil ? 10 : nil
    }

    /// The labels of the items `load` gives for the same arguments; nil for sets without labels.
    public static func labels(_ name: String, size: Int, seed: UInt64, directory: URL) throws -> [Int]? {
        if let toy = Toy2D(rawValue: name) {
            guard toy.classes != nil else { return nil }
            var rng = Philox(seed: seed).derived(RandomPurpose.trainingData)
            return toy.sampleLabelled(size, rng: &rng).labels
        }
        if let split = images[name] { return try MNIST.labels(split, from: directory.appendingPathComponent("mnist")) }
        return nil
    }

    /// Labelled data to measure a classifier trained on a built-in set with: MNIST's test images for MNIST, a
    /// fresh draw (another seed) for a 2-D generator with classes; nil for sets without labels.
    public static func heldOut(_ name: String, count: Int, seed: UInt64, directory: URL) throws -> (data: Tensor, labels: [Int], source: String)? {
        if images[name] != nil {
            let dir = directory.appendingPathComponent("mnist")
            let test = try MNIST.load(.test, from: dir), labels = try MNIST.labels(.test, from: dir)
            let k = min(count, test.shape[0])
            return (test.rows(0..<k), Array(labels.prefix(k)), "mnist_test")
        }
        let other = seed &+ 0x9E37_79B9
        guard let labels = try labels(name, size: count, seed: other, directory: directory),
              let data = try load(name, size: count, seed: other, directory: directory) else { return nil }
        return (data, labels, "\(name), a fresh draw")
    }
}
