/// Concatenation, slicing and padding along one axis. A shape splits at `axis` into
/// outer × length × inner, and each operation copies contiguous runs of `length·inner` or `inner` elements.
extension Tensor {
    @inline(__always)
    func split(at axis: Int) -> (outer: Int, length: Int, inner: Int) {
        precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Joins tensors that agree on every axis but `axis`.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty)
        var shape = parts[0].shape
        for p in parts.dropFirst() {
            precondition(p.rank == shape.count, "concatenating ranks \(p.rank) and \(shape.count)")
            for d in 0..<shape.count where d != axis {
                precondition(p.shape[d] == shape[d], "concatenating \(p.shape) and \(shape) along \(axis)")
            }
        }
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let rowOut = shape[axis] * inner
        return Tensor(shape: shape) { y, _ in
            var offset = 0
            for p in parts {
                let run = p.shape[axis] * inner
                p.scalars.withUnsafeBufferPointer { src in
                    for o in 0..<outer {
                        (y + o * rowOut + offset).update(from: src.baseAddress! + o * run, count: run)
                    }
                }
                offset += run
            }
        }
    }

    /// The elements with index in `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let (outer, length, inner) = split(at: axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "slice \(range) of axis of length \(length)")
        var s = shape
        s[axis] = range.count
        let run = range.count * inner
        return Tensor(shape: s) { y, _ in
            scalars.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    (y + o * run).update(from: src.baseAddress! + o * length * inner + range.lowerBound * inner, count: run)
                }
            }
        }
    }

    /// Zeros of axis length `length` with `self` written at `start` along `axis`.
    public func padded(axis: Int, start: Int, length: Int) -> Tensor {
        let (outer, own, inner) = split(at: axis)
        precondition(start >= 0 && start + own <= length, "padding axis \(own) at \(start) into \(length)")
        var s = shape
        s[axis] = length
        var out = Tensor.zeros(s)
        out.scalars.withUnsafeMutableBufferPointer { y in
            scalars.withUnsafeBufferPointer { src in
                for o in 0..<outer {
                    (y.baseAddress! + o * length * inner + start * inner)
                        .update(from: src.baseAddress! + o * own * inner, count: own * inner)
                }
            }
        }
        return out
    }
}
