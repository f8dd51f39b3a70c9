/// Philox4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3"): a counter-based
/// generator. Block j of stream s under key k is Philox(k, (j, s)), so any stream can be started anywhere
/// without touching the others: sample i of a request seeded with `seed` draws from stream i, and its
/// numbers do not depend on how many other samples are drawn beside it.
public struct Philox: RandomNumberGenerator, Sendable, Codable, Equatable {
    public let seed: UInt64
    public let stream: UInt64
    /// Index of the next 128-bit block.
    public private(set) var block: UInt64 = 0
    var buffer = SIMD4<UInt32>()
    var used = 4
    var spareGaussian: Float? = nil

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// A generator for a named purpose of the same seed (data, noise, probes, …), independent of the others.
    public func derived(_ purpose: UInt64) -> Philox {
        Philox(seed: Philox.mix(seed ^ Philox.mix(purpose &+ 0x9E37_79B9_7F4A_7C15)), stream: stream)
    }

    /// SplitMix64's finaliser, used to turn small integers into well-spread keys.
    public static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The 4×32-bit output of block `counter` (c₀, c₁ from the block index; c₂, c₃ from the stream).
    @inline(__always)
    static func philox(key: UInt64, counter: UInt64, stream: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var k0 = UInt32(truncatingIfNeeded: key), k1 = UInt32(truncatingIfNeeded: key >> 32)
        var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
        var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
            k0 = k0 &+ 0x9E37_79B9
            k1 = k1 &+ 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// The next 32 random bits.
    @inline(__always)
    public mutating func next32() -> UInt32 {
        if used == 4 {
            let (a, b, c, d) = Philox.philox(key: seed, counter: block, stream: stream)
            block &+= 1
            buffer = SIMD4(a, b, c, d)
            used = 0
        }
        used += 1
        return buffer[used - 1]
    }

    public mutating func next() -> UInt64 {
        UInt64(next32()) << 32 | UInt64(next32())
    }

    /// Uniform on [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func uniform() -> Float { Float(next32() >> 8) * 0x1p-24 }

    /// Standard normal (Box–Muller; the second value of each pair is kept for the next call).
    public mutating func gaussian() -> Float {
        if let z = spareGaussian { spareGaussian = nil; return z }
        let u1 = (Double(next32() >> 8) + 1) * 0x1p-24  // (0, 1]
        let u2 = Double(next32() >> 8) * 0x1p-24
        let r = (-2 * Foundation.log(u1)).squareRoot()
        let a = 2 * Double.pi * u2
        spareGaussian = Float(r * Foundation.sin(a))
        return Float(r * Foundation.cos(a))
    }

    /// ±1 with equal probability.
    @inline(__always)
    public mutating func rademacher() -> Float { next32() & 1 == 0 ? -1 : 1 }

    /// Uniform integer in 0..<n.
    public mutating func index(below n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// A tensor of standard normal entries.
    public mutating func gaussian(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { p, n in for i in 0..<n { p[i] = gaussian() } }
    }

    /// A tensor of uniform entries on [low, high).
    public mutating func uniform(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        Tensor(shape: shape) { p, n in for i in 0..<n { p[i] = low + (high - low) * uniform() } }
    }
}

/// One Philox stream per row of a batch: row r of a batch that starts at global index `first` draws from
/// stream `first + r`, so a sample's random numbers depend only on (seed, its index).
public struct RowStreams: Sendable {
    public var rows: [Philox]

    public init(seed: UInt64, first: Int, count: Int) {
        rows = (0..<count).map { Philox(seed: seed, stream: UInt64(first + $0)) }
    }

    /// Standard normal noise of `shape` (shape[0] == number of rows), each row from its own stream.
    public mutating func gaussian(_ shape: [Int]) -> Tensor {
        precondition(shape[0] == rows.count, "noise for \(shape[0]) rows from \(rows.count) streams")
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: shape) { p, _ in
            for r in 0..<rows.count { for j in 0..<inner { p[r * inner + j] = rows[r].gaussian() } }
        }
    }

    /// Rademacher (±1) probes of `shape`, row-wise.
    public mutating func rademacher(_ shape: [Int]) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: shape) { p, _ in
            for r in 0..<rows.count { for j in 0..<inner { p[r * inner + j] = rows[r].rademacher() } }
        }
    }

    /// Uniform [0, 1) entries of `shape`, row-wise.
    public mutating func uniform(_ shape: [Int]) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: shape) { p, _ in
            for r in 0..<rows.count { for j in 0..<inner { p[r * inner + j] = rows[r].uniform() } }
        }
    }

    /// Keeps the streams of the rows where `keep` is true (for samplers that retire finished rows).
    public mutating func filter(_ keep: [Bool]) {
        rows = zip(rows, keep).filter { $0.1 }.map { $0.0 }
    }
}

import Foundation
