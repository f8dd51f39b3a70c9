/// A model's named tensors in a fixed order: trainable parameters and fixed buffers (such as the random
/// Fourier frequencies). Names follow PyTorch's `state_dict` (`net.0.weight`, `embed.W`, `conv1.weight`),
/// so a checkpoint written from here loads into the equivalent `nn.Module` and back.
public struct ParameterSet: Sendable, Equatable {
    public private(set) var names: [String] = []
    public var tensors: [Tensor] = []
    public private(set) var trainable: [Bool] = []

    public init() {}

    /// Appends a tensor and returns its index.
    @discardableResult
    public mutating func add(_ name: String, _ t: Tensor, trainable: Bool = true) -> Int {
        precondition(!names.contains(name), "duplicate parameter \(name)")
        names.append(name)
        tensors.append(t)
        self.trainable.append(trainable)
        return names.count - 1
    }

    public var count: Int { names.count }

    /// Registers a layer's `name.weight` of `shape` and, with `bias`, its `name.bias` of `bias` entries, both
    /// drawn as PyTorch initialises `Linear`, `Conv2d` and `ConvTranspose2d`: U(−1/√fanIn, 1/√fanIn), weight
    /// first. Returns their indices.
    public mutating func addLayer(_ name: String, weight shape: [Int], fanIn: Int, bias: Int?,
                                  rng: inout Philox) -> (weight: Int, bias: Int?) {
        let k = 1 / Float(fanIn).squareRoot()
        let w = add("\(name).weight", rng.uniform(shape, low: -k, high: k))
        return (w, bias.map { add("\(name).bias", rng.uniform([$0], low: -k, high: k)) })
    }

    /// Number of trainable scalars.
    public var trainableScalarCount: Int {
        zip(tensors, trainable).reduce(0) { $0 + ($1.1 ? $1.0.count : 0) }
    }

    public subscript(name: String) -> Tensor? {
        names.firstIndex(of: name).map { tensors[$0] }
    }

    /// Puts every tensor on the tape: trainable ones as variables when `training`, the rest as constants.
    public func bind(to tape: Tape, training: Bool) -> [Var] {
        zip(tensors, trainable).map { t, tr in training && tr ? tape.variable(t) : tape.constant(t) }
    }

    public var named: [(String, Tensor)] { Array(zip(names, tensors)) }

    public enum LoadError: Error, CustomStringConvertible {
        case missing(String), shape(String, expected: [Int], found: [Int])
        public var description: String {
            switch self {
            case .missing(let n): return "checkpoint has no tensor named \(n)"
            case .shape(let n, let e, let f): return "tensor \(n) has shape \(f), the model expects \(e)"
            }
        }
    }

    /// Replaces every tensor with the one of the same name (after `rename`) from `source`, checking shapes.
    public mutating func load(from source: [String: Tensor], rename: (String) -> String = { $0 }) throws {
        for i in 0..<names.count {
            let key = rename(names[i])
            guard let t = source[key] else { throw LoadError.missing(key) }
            guard t.shape == tensors[i].shape else { throw LoadError.shape(key, expected: tensors[i].shape, found: t.shape) }
            tensors[i] = t
        }
    }
}
