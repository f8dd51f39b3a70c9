import CSIMD

/// Vectorised single-precision elementary functions on sixteen lanes (Cephes' polynomials or fits at Chebyshev nodes,
/// about 2 ulp). Sixteen lanes are two AVX registers whose instructions the compiler interleaves, so the core
/// overlaps two dependency chains of these long polynomial evaluations that it would otherwise run one after
/// the other (its floating-point scheduler holds about one chain).
///
/// `exp`: x = n·ln2 + r with |r| ≤ ln2/2, eʳ by a polynomial, 2ⁿ assembled in the exponent bits.
/// `log`: x = m·2ᵉ with m ∈ [√½, √2), log(m) by a degree-9 polynomial in m − 1.
public enum FastMath {
    public typealias V = SIMD16<Float>
    public typealias VI = SIMD16<Int32>

    /// √x, correctly rounded (see CSIMD).
    @inline(__always) public static func sqrt(_ x: V) -> V { score_sqrt16(x) }

    @usableFromInline @inline(__always) static func bits(_ v: V) -> VI { unsafeBitCast(v, to: VI.self) }
    @usableFromInline @inline(__always) static func float(_ v: VI) -> V { unsafeBitCast(v, to: V.self) }

    /// eˣ; 0 below −87.3, clamped near Float.greatestFiniteMagnitude above 88.7.
    @_transparent
    public static func exp(_ x0: V) -> V {
        let x = min(max(x0, V(repeating: -87.3)), V(repeating: 88.7))
        return expReduced(x).replacing(with: 0, where: x0 .< -87.3)
    }

    /// eˣ for x ≤ 0, as softplus and log σ need it (e^{−|x|}): arguments below −87 give e⁻⁸⁷ ≈ 1.6e-38 instead
    /// of a smaller number, which added to 1 or 2 changes nothing.
    @_transparent
    public static func expNonPositive(_ x: V) -> V { expReduced(max(x, V(repeating: -87))) }

    /// eˣ for x in [−87.3, 88.7]: x = n·ln2 + r by two FMAs, eʳ = 1 + r + r²P(r) with P of degree 4 fitted
    /// at Chebyshev nodes on |r| ≤ ln2/2 (relative error 1.1e-8 with these float coefficients; Cephes' P has
    /// degree 5), by Horner's rule: the activations are bound by the FMA pipes, not by latency, so the
    /// fewest multiplications win (Estrin's scheme needs two more).
    @_transparent
    @usableFromInline static func expReduced(_ x: V) -> V {
        let magic: Float = 12582912  // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits
        let t = fma(x, V(repeating: 1.44269504088896341), V(repeating: magic))
        let n = t - magic
        var r = fma(n, V(repeating: -0.693359375), x)
        r = fma(n, V(repeating: 2.12194440e-4), r)
        var p = V(repeating: 0.0013933643931522965)
        p = fma(p, r, V(repeating: 0.008363175205886364))
        p = fma(p, r, V(repeating: 0.04166646674275398))
        p = fma(p, r, V(repeating: 0.16666576266288757))
        p = fma(p, r, V(repeating: 0.5))
        let y = fma(p, r * r, r + 1)
        // 2ⁿ: n sits in t's low mantissa bits; bits(t) − bits(magic) + 127, shifted into the exponent.
        let scale = float((bits(t) &+ (127 &- 0x4B40_0000)) &<< 23)
        return y * scale
    }

    /// Natural logarithm for positive arguments (−∞ at 0, NaN below).
    @inline(__always)
    public static func log(_ x: V) -> V {
        let b = bits(x)
        var e = intToFloat((b &>> 23) &- 126)
        var m = float((b & Int32(bitPattern: 0x807f_ffff)) | 0x3f00_0000)  // m ∈ [0.5, 1)
        let small = m .< 0.707106781186547524
        e = e.replacing(with: e - 1, where: small)
        m = m.replacing(with: m + m - 1, where: small).replacing(with: m - 1, where: .!small)
        let z = m * m
        var y = V(repeating: 7.0376836292e-2)
        y = y * m - 1.1514610310e-1
        y = y * m + 1.1676998740e-1
        y = y * m - 1.2420140846e-1
        y = y * m + 1.4249322787e-1
        y = y * m - 1.6668057665e-1
        y = y * m + 2.0000714765e-1
        y = y * m - 2.4999993993e-1
        y = y * m + 3.3333331174e-1
        y = y * m * z
        y = y + e * -2.12194440e-4
        y = y - z * 0.5
        var r = m + y + e * 0.693359375
        r = r.replacing(with: -.infinity, where: x .== 0)
        r = r.replacing(with: .nan, where: x .< 0)
        return r.replacing(with: .infinity, where: x .== .infinity)
    }

    /// log(1 + u) for u ∈ [0, 1] (as softplus needs, u = e^{−|x|}): log1p(u) = 2 atanh(s) with
    /// s = u/(2 + u) ∈ [0, 1/3], and atanh(s)/s = P(s²) with P of degree 4 fitted at Chebyshev nodes on
    /// s² ∈ [0, 1/9] (relative error 7.8e-9 with these float coefficients, against 1.4e-8 for the Taylor
    /// series to s¹²), by Horner's rule. Relative accuracy holds down to u → 0. The division is not the limit
    /// here (the FMA pipes are), so a longer polynomial in u without it would gain nothing.
    @_transparent
    public static func log1p(_ u: V) -> V {
        let s = u / (u + 2)
        let z = s * s
        var p = V(repeating: 0.1408732831478119)
        p = fma(p, z, V(repeating: 0.1398070901632309))
        p = fma(p, z, V(repeating: 0.20012426376342773))
        p = fma(p, z, V(repeating: 0.3333315849304199))
        p = fma(p, z, V(repeating: 1))
        return (s + s) * p
    }

    /// a·b + c in one rounding (vfmadd on FMA machines).
    @inline(__always) public static func fma(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }

    /// σ(x) = 1/(1 + e⁻ˣ).
    @_transparent
    public static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^{−|x|}).
    @_transparent
    public static func softplus(_ x: V) -> V {
        return max(x, V.zero) + log1p(expNonPositive(-abs(x)))
    }

    /// tanh(x): odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above.
    @inline(__always)
    public static func tanh(_ x: V) -> V {
        let a = abs(x)
        let z = x * x
        var p = V(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        let big = 1 - 2 / (exp(a + a) + 1)
        let signedBig = big.replacing(with: -big, where: x .< 0)
        return small.replacing(with: signedBig, where: a .>= 0.625)
    }

    @usableFromInline @inline(__always) static func abs(_ x: V) -> V { float(bits(x) & 0x7fff_ffff) }
    /// Exact conversion of small integers (|i| < 2²²) without the generic lane-by-lane initialiser.
    @usableFromInline @inline(__always) static func intToFloat(_ i: VI) -> V {
        float(i &+ 0x4B40_0000) - 12582912
    }
    @inline(__always) public static func max(_ a: V, _ b: V) -> V { a.replacing(with: b, where: a .< b) }
    @inline(__always) public static func min(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }
}
