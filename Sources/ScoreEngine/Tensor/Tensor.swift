/// A dense, contiguous, row-major float32 tensor: `shape` and its `scalars`.
///
/// Value semantics (the storage is a Swift array, copied on write). Element (i₀, …, iₖ) sits at
/// Σ iⱼ·strideⱼ with strideₖ = 1 and strideⱼ = strideⱼ₊₁·shapeⱼ₊₁, as in PyTorch and NumPy, so checkpoints
/// move between the two without transposes.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// A tensor of the given shape holding `scalars` (row-major).
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(Tensor.count(of: shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.count(of: shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: Tensor.count(of: shape)))
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// A scalar (rank-0) tensor.
    public init(_ value: Float) { self.init(shape: [], scalars: [value]) }

    /// A tensor of unspecified contents, for an output its caller writes whole before anything reads it (a
    /// product with β = 0, or blocks each zeroed just before they are added to), without the pass that zeros
    /// would cost.
    static func unfilled(_ shape: [Int]) -> Tensor { Tensor(shape: shape) { _, _ in } }

    /// A tensor whose storage is written by `body` (which must initialise every element).
    @inlinable
    public init(shape: [Int], uninitialized body: (UnsafeMutablePointer<Float>, Int) -> Void) {
        let n = Tensor.count(of: shape)
        let s = [Float](unsafeUninitializedCapacity: n) { buf, initialized in
            if n > 0 { body(buf.baseAddress!, n) }
            initialized = n
        }
        self.init(shape: shape, scalars: s)
    }

    /// A rank-2 tensor from rows of equal length.
    public init(rows: [[Float]]) {
        let c = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == c }, "rows of unequal length")
        self.init(shape: [rows.count, c], scalars: rows.flatMap { $0 })
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// Number of elements of a shape.
    @inlinable
    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The only element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor of shape \(shape)")
        return scalars[0]
    }

    /// The same scalars under another shape with the same number of elements.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Rows i..<j along the first axis.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let inner = shape.dropFirst().reduce(1, *)
        var s = shape
        s[0] = range.count
        return Tensor(shape: s, scalars: Array(scalars[range.lowerBound * inner ..< range.upperBound * inner]))
    }

    /// The rows at `indices` along the first axis (a gather).
    public func rows(at indices: [Int]) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        var s = shape
        s[0] = indices.count
        return Tensor(shape: s) { out, _ in
            scalars.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    (out + k * inner).update(from: src.baseAddress! + i * inner, count: inner)
                }
            }
        }
    }

    /// Stacks tensors of equal shape along the first axis (concatenation of their rows).
    public static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let tail = Array(parts[0].shape.dropFirst())
        precondition(parts.allSatisfy { Array($0.shape.dropFirst()) == tail }, "row shapes differ")
        let n = parts.reduce(0) { $0 + $1.shape[0] }
        return Tensor(shape: [n] + tail, scalars: parts.flatMap { $0.scalars })
    }

    /// Maximum absolute difference to another tensor of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shapes \(shape) and \(other.shape) differ")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, Swift.abs(scalars[i] - other.scalars[i])) }
        return m
    }

    /// True when every element is finite.
    public var isFinite: Bool { scalars.allSatisfy { $0.isFinite } }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

import Foundation
