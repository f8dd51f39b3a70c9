/// Vectorised single-precision elementary functions on eight lanes (Cephes' polynomials, about 2 ulp).
///
/// `exp`: x = n·ln2 + r with |r| ≤ ln2/2, eʳ by a degree-6 polynomial, 2ⁿ assembled in the exponent bits.
/// `log`: x = m·2ᵉ with m ∈ [√½, √2), log(m) by a degree-9 polynomial in m − 1.
public enum FastMath {
    public typealias V = SIMD8<Float>
    public typealias VI = SIMD8<Int32>

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

    /// eˣ for x in [−87.3, 88.7]: the two-part reduction by FMAs, the polynomial by Estrin's scheme (a chain
    /// of three FMAs instead of six, so that more elements are in flight at once).
    @_transparent
    @usableFromInline static func expReduced(_ x: V) -> V {
        let magic: Float = 12582912  // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits
        let t = fma(x, V(repeating: 1.44269504088896341), V(repeating: magic))
        let n = t - magic
        var r = fma(n, V(repeating: -0.693359375), x)
        r = fma(n, V(repeating: 2.12194440e-4), r)
        let r2 = r * r, r4 = r2 * r2
        let p01 = fma(V(repeating: 1.6666665459e-1), r, V(repeating: 5.0000001201e-1))
        let p23 = fma(V(repeating: 8.3334519073e-3), r, V(repeating: 4.1665795894e-2))
        let p45 = fma(V(repeating: 1.9875691500e-4), r, V(repeating: 1.3981999507e-3))
        let p = fma(p45, r4, fma(p23, r2, p01))
        let y = fma(p, r2, r + 1)
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
    /// s = u/(2 + u) ∈ [0, 1/3], and 2 atanh(s) = 2s Σₖ s²ᵏ/(2k + 1), truncated after s¹² (relative error
    /// below (1/9)⁷/15 ≈ 1.4e-8) and evaluated by Estrin's scheme. Relative accuracy holds down to u → 0.
    /// (A degree-10 polynomial in u without the division measured no faster: the FMA pipes are the limit.)
    @_transparent
    public static func log1p(_ u: V) -> V {
        let s = u / (u + 2)
        let z = s * s
        let z2 = z * z, z4 = z2 * z2
        let q0 = fma(V(repeating: 1.0 / 3), z, V(repeating: 1))
        let q1 = fma(V(repeating: 1.0 / 7), z, V(repeating: 1.0 / 5))
        let q2 = fma(V(repeating: 1.0 / 11), z, V(repeating: 1.0 / 9))
        let p = fma(fma(V(repeating: 1.0 / 13), z2, q2), z4, fma(q1, z2, q0))
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
