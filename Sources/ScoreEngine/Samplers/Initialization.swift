/// Where an MCMC chain starts, drawn row by row from the row's own stream.
public enum ChainStart: Sendable, Equatable, Codable {
    /// Uniform on [low, high] in every coordinate.
    case uniform(low: Float, high: Float)
    /// N(0, std² I).
    case gaussian(std: Float)

    public func draw(_ shape: [Int], _ streams: inout RowStreams) -> Tensor {
        switch self {
        case .uniform(let lo, let hi): return streams.uniform(shape) * (hi - lo) + lo
        case .gaussian(let s): return streams.gaussian(shape) * s
        }
    }
}

extension Tensor {
    /// Multiplies row i by c[i].
    func scaledRows(_ c: [Float]) -> Tensor {
        self * Tensor(shape: rowShape(shape), scalars: c)
    }

    /// Euclidean norm of each row.
    func rowNorms() -> [Float] {
        let n = shape[0], d = count / Swift.max(n, 1)
        return scalars.withUnsafeBufferPointer { p in
            (0..<n).map { i in Kernels.dot(p.baseAddress! + i * d, p.baseAddress! + i * d, d).squareRoot() }
        }
    }
}
