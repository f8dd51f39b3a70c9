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

    /// Standard normal (Box–Muller from two draws of 32 bits; the second value of each pair is kept for the
    /// next call). The same numbers as `gaussian(_:)` and `RowStreams.gaussian(_:)` give, which transform sixteen
    /// pairs at a time.
    public mutating func gaussian() -> Float {
        if let z = spareGaussian { spareGaussian = nil; return z }
        let u1 = next32(), u2 = next32()
        let (c, s) = Philox.boxMuller(SIMD16(repeating: u1), SIMD16(repeating: u2))
        spareGaussian = s[0]
        return c[0]
    }

    /// Box–Muller on sixteen lanes: (r cos θ, r sin θ) with r = √(−2 log u₁), θ = 2π u₂, from the top 24 bits of
    /// each draw: u₁ ∈ (0, 1], u₂ ∈ [0, 1). θ is reduced exactly (u₂ − round(u₂) and quarter turns are
    /// multiples of 2⁻²⁴) to |2π s| ≤ π/4, where Cephes' sinf and cosf polynomials hold; |z| ≤ 5.8.
    @inline(__always)
    static func boxMuller(_ b1: SIMD16<UInt32>, _ b2: SIMD16<UInt32>) -> (SIMD16<Float>, SIMD16<Float>) {
        typealias V = SIMD16<Float>
        let u1 = (top24(b1) + 1) * 0x1p-24, u2 = top24(b2) * 0x1p-24
        let r = FastMath.sqrt(-2 * FastMath.log(u1))
        let magic: Float = 12582912
        let t = u2 - ((u2 + magic) - magic)  // [−½, ½]
        let qf = (t * 4 + magic) - magic     // quarter turns, −2 … 2
        let x = (t - qf * 0.25) * (2 * Float.pi)
        let z = x * x
        var sn = V(repeating: -1.9515295891e-4)
        sn = FastMath.fma(sn, z, V(repeating: 8.3321608736e-3))
        sn = FastMath.fma(sn, z, V(repeating: -1.6666654611e-1))
        sn = FastMath.fma(sn * z, x, x)
        var cs = V(repeating: 2.443315711809948e-5)
        cs = FastMath.fma(cs, z, V(repeating: -1.388731625493765e-3))
        cs = FastMath.fma(cs, z, V(repeating: 4.166664568298827e-2))
        cs = FastMath.fma(cs * z, z, 1 - 0.5 * z)
        // cos(x + qπ/2) and sin(x + qπ/2) for q mod 4 = 0, 1, 2, 3: (c, s), (−s, c), (−c, −s), (s, −c).
        // In bit operations: comparisons of integer lanes would go lane by lane.
        let q = unsafeBitCast(qf + magic, to: SIMD16<Int32>.self) & 3  // q mod 4 from the low mantissa bits
        let swap = 0 &- (q & 1)                                        // all ones for odd q
        let bc = unsafeBitCast(cs, to: SIMD16<Int32>.self), bs = unsafeBitCast(sn, to: SIMD16<Int32>.self)
        let a = (bc & ~swap) | (bs & swap), b = (bs & ~swap) | (bc & swap)
        let cosine = a ^ (((q &+ 1) & 2) &<< 30)  // sign flipped for q = 1, 2
        let sine = b ^ ((q & 2) &<< 30)           // and for q = 2, 3
        return (r * unsafeBitCast(cosine, to: V.self), r * unsafeBitCast(sine, to: V.self))
    }

    /// The top 24 bits of each lane as exact floats, in two halves that the 2²³ trick converts exactly
    /// (the generic SIMD conversion goes lane by lane).
    @inline(__always)
    static func top24(_ b: SIMD16<UInt32>) -> SIMD16<Float> {
        let bias = SIMD16<Float>(repeating: 0x1p23)
        let hi = unsafeBitCast((b &>> 9) | 0x4B00_0000, to: SIMD16<Float>.self) - bias
        let lo = unsafeBitCast(((b &>> 8) & 1) | 0x4B00_0000, to: SIMD16<Float>.self) - bias
        return FastMath.fma(hi, SIMD16(repeating: 2), lo)
    }

    /// ±1 with equal probability.
    @inline(__always)
    public mutating func rademacher() -> Float { next32() & 1 == 0 ? -1 : 1 }

    /// Uniform integer in 0..<n.
    public mutating func index(below n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// A tensor of standard normal entries (the numbers `gaussian()` would give one by one).
    public mutating func gaussian(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape) { p, n in
            let spare = spareGaussian.map { _ in 1 } ?? 0
            let pairs = (n - min(spare, n) + 1) / 2
            Philox.transformPairs(pairs, draw: { b1, b2 in
                for k in 0..<pairs { b1[k] = next32(); b2[k] = next32() }
            }, place: { c, s in
                var i = 0
                if let z = spareGaussian, n > 0 { p[0] = z; spareGaussian = nil; i = 1 }
                var k = 0
                while i < n {
                    p[i] = c[k]
                    if i + 1 < n { p[i + 1] = s[k] } else { spareGaussian = s[k] }
                    i += 2; k += 1
                }
            })
        }
    }

    /// Draws `pairs` pairs of 32-bit words (`draw` fills the two buffers in the order the pairs are drawn),
    /// transforms them sixteen at a time, and hands the cosine and sine parts to `place`.
    @inline(__always)
    static func transformPairs(_ pairs: Int, draw: (UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt32>) -> Void,
                               place: (UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
        let padded = (pairs + 15) & ~15
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * padded + 1) { bits in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * padded + 1) { out in
                let b1 = bits.baseAddress!, b2 = b1 + padded, c = out.baseAddress!, s = c + padded
                draw(b1, b2)
                for k in pairs..<padded { b1[k] = 0; b2[k] = 0 }
                var k = 0
                while k < padded {
                    let (vc, vs) = boxMuller(UnsafeRawPointer(b1 + k).loadUnaligned(as: SIMD16<UInt32>.self),
                                             UnsafeRawPointer(b2 + k).loadUnaligned(as: SIMD16<UInt32>.self))
                    UnsafeMutableRawPointer(c + k).storeBytes(of: vc, as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(s + k).storeBytes(of: vs, as: SIMD16<Float>.self)
                    k += 16
                }
                place(c, s)
            }
        }
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

    /// Standard normal noise of `shape` (shape[0] == number of rows), each row from its own stream (the
    /// numbers its `gaussian()` would give), the pairs of all rows transformed together, sixteen at a time.
    public mutating func gaussian(_ shape: [Int]) -> Tensor {
        precondition(shape[0] == rows.count, "noise for \(shape[0]) rows from \(rows.count) streams")
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: shape) { p, _ in
            // A row with a spare value from its last call starts with it and needs one value fewer.
            let pairs = inner == 0 ? 0 : rows.reduce(0) { $0 + (inner - ($1.spareGaussian == nil ? 0 : 1) + 1) / 2 }
            Philox.transformPairs(pairs, draw: { b1, b2 in
                var k = 0
                for r in rows.indices {
                    var j = inner > 0 && rows[r].spareGaussian != nil ? 1 : 0
                    while j < inner { b1[k] = rows[r].next32(); b2[k] = rows[r].next32(); k += 1; j += 2 }
                }
            }, place: { c, s in
                var k = 0
                for r in rows.indices where inner > 0 {
                    let base = r * inner
                    var j = 0
                    if let z = rows[r].spareGaussian { p[base] = z; rows[r].spareGaussian = nil; j = 1 }
                    while j < inner {
                        p[base + j] = c[k]
                        if j + 1 < inner { p[base + j + 1] = s[k] } else { rows[r].spareGaussian = s[k] }
                        k += 1; j += 2
                    }
                }
            })
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

import CSIMD
import Foundation
