/// Where an MCMC chain starts, drawn row by row from the row's own stream.
public enum ChainStart: Sendable, Equatable {
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
}
