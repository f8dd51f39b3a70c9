import Foundation

/// The built-in data sets, the same for the service and the command line: the 2-D generators (`Toy2D`, drawn
/// with the recipe's seed) and MNIST's training and test images (from a directory holding its IDX files).
public enum BuiltinDatasets {
    /// The MNIST splits by name, grey and coloured (`ColoredMNIST`).
    public static let images: [String: MNIST.Split] = ["mnist": .train, "mnist_test": .test, "colored_mnist": .train, "colored_mnist_test": .test]

    /// The coloured sets.
    static func isColored(_ name: String) -> Bool { name.hasPrefix("colored_") }

    public static var names: [String] { Toy2D.allCases.map(\.rawValue) + ["mnist", "mnist_test", "colored_mnist", "colored_mnist_test"] }

    public static func kind(_ name: String) -> DataKind? {
        if Toy2D(rawValue: name) != nil { return .points }
        if images[name] != nil { return .images }
        return nil
    }

    public static func itemShape(_ name: String) -> [Int]? {
        guard let k = kind(name) else { return nil }
        return k == .points ? [2] : [isColored(name) ? 3 : 1, 28, 28]
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
        if let split = images[name] {
            let grey = try MNIST.load(split, from: directory.appendingPathComponent("mnist"))
            return isColored(name) ? ColoredMNIST.tint(grey, seed: split == .train ? 1 : 2) : grey
        }
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
            let test = isColored(name) ? "colored_mnist_test" : "mnist_test"
            let data = try load(test, size: 0, seed: 0, directory: directory)!, labels = try labels(test, size: 0, seed: 0, directory: directory)!
            let k = min(count, data.shape[0])
            return (data.rows(0..<k), Array(labels.prefix(k)), test)
        }
        let other = seed &+ RandomPurpose.heldOutDrawsOffset
        guard let labels = try labels(name, size: count, seed: other, directory: directory),
              let data = try load(name, size: count, seed: other, directory: directory) else { return nil }
        return (data, labels, "\(name), a fresh draw")
    }
}

/// Coloured MNIST: each digit and its background tinted by hues drawn from a seeded generator (image k from
/// stream k): the stroke a bright colour of hue h, the background a dark one of a hue at least a quarter turn
/// away, mixed by the grey level g: x = g·stroke + (1 − g)·background. 28×28 RGB, MNIST's labels.
public enum ColoredMNIST {
    public static func tint(_ grey: Tensor, seed: UInt64) -> Tensor {
        precondition(grey.rank == 4 && grey.shape[1] == 1)
        let n = grey.shape[0], hw = grey.shape[2] * grey.shape[3]
        return Tensor(shape: [n, 3, grey.shape[2], grey.shape[3]]) { out, _ in
            for k in 0..<n {
                var rng = Philox(seed: Philox.mix(seed ^ RandomPurpose.trainingData), stream: UInt64(k))
                let h = Double(rng.uniform()), hb = h + 0.25 + 0.5 * Double(rng.uniform())
                let stroke = rgb(hue: h, saturation: 0.9, value: 1), background = rgb(hue: hb, saturation: 0.8, value: 0.35)
                for p in 0..<hw {
                    let g = grey.scalars[k * hw + p]
                    for c in 0..<3 { out[(k * 3 + c) * hw + p] = g * stroke[c] + (1 - g) * background[c] }
                }
            }
        }
    }

    /// HSV to RGB, hue in turns.
    static func rgb(hue: Double, saturation s: Double, value v: Double) -> [Float] {
        let h = (hue - hue.rounded(.down)) * 6, i = Int(h) % 6, f = h - h.rounded(.down)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let (r, g, b): (Double, Double, Double) = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
        return [Float(r), Float(g), Float(b)]
    }
}
