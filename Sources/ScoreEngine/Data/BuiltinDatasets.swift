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
}
