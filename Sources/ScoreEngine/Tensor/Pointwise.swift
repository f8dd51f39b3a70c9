/// Scalar functions applied element by element, with their derivatives of order 0 through 3.
///
/// `f⁽ⁿ⁾(x)` for every kind, so that the autodiff op `pointwise(f, n)` has the derivative
/// `pointwise(f, n + 1)`: the backward pass of an activation is again differentiable, which exact and sliced
/// score matching need (their losses contain ∂s/∂x; their weight gradients contain f″). With σ the logistic
/// sigmoid:
///
/// | kind | f | f′ | f″ | f‴ |
/// | --- | --- | --- | --- | --- |
/// | relu | max(x,0) | 1[x>0] | 0 | 0 |
/// | elu | x or eˣ−1 | 1 or eˣ | 0 or eˣ | 0 or eˣ |
/// | sigmoid | σ | σ(1−σ) | σ(1−σ)(1−2σ) | σ(1−σ)(1−6σ+6σ²) |
/// | softplus | log(1+eˣ) | σ | σ′ | σ″ |
/// | logSigmoid | −softplus(−x) | 1−σ | −σ′ | −σ″ |
/// | tanh | τ | 1−τ² | −2τ(1−τ²) | −2(1−τ²)(1−3τ²) |
/// | silu (swish) | xσ | σ + xσ′ | 2σ′ + xσ″ | 3σ″ + xσ‴ |
/// | exp, log, sin, cos, square, sqrt, reciprocal | the usual closed forms |
public enum Pointwise: String, Sendable, CaseIterable, Codable {
    case relu, elu, sigmoid, softplus, logSigmoid, tanh, silu
    case exp, log, sin, cos, square, sqrt, reciprocal

    /// The highest derivative order implemented (sin and cos have all).
    public static let maxOrder = 3

    /// Applies f⁽ᵒʳᵈᵉʳ⁾ to `n` elements.
    public func apply(order: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        precondition(order >= 0 && (order <= Pointwise.maxOrder || self == .sin || self == .cos),
                     "derivative of order \(order) of \(self) is not implemented")
        switch self {
        case .sin, .cos:
            // sin⁽ⁿ⁾(x) = sin(x + nπ/2); cos = sin shifted by one order.
            let k = (order + (self == .cos ? 1 : 0)) % 4
            for i in 0..<n {
                let v = x[i]
                switch k {
                case 0: y[i] = Foundation.sin(v)
                case 1: y[i] = Foundation.cos(v)
                case 2: y[i] = -Foundation.sin(v)
                default: y[i] = -Foundation.cos(v)
                }
            }
        default:
            applyVector(order: order, x, y, n)
        }
    }

    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                    _ f: (FastMath.V) -> FastMath.V) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: FastMath.V.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: FastMath.V.self)
            i += 8
        }
        if i < n {
            var v = FastMath.V(repeating: 1)
            for j in 0..<(n - i) { v[j] = x[i + j] }
            let r = f(v)
            for j in 0..<(n - i) { y[i + j] = r[j] }
        }
    }

    /// One loop per (function, order), each with its body inlined.
    // swiftlint:disable:next cyclomatic_complexity function_body_length
    func applyVector(order: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        typealias V = FastMath.V
        let zero = V.zero, one = V(repeating: 1)
        let m = Pointwise.map
        switch (self, order) {
        case (.relu, 0): m(x, y, n) { FastMath.max($0, zero) }
        case (.relu, 1): m(x, y, n) { zero.replacing(with: 1, where: $0 .> 0) }
        case (.relu, _): m(x, y, n) { _ in zero }
        case (.elu, 0): m(x, y, n) { v in (FastMath.exp(FastMath.min(v, zero)) - 1).replacing(with: v, where: v .> 0) }
        case (.elu, 1): m(x, y, n) { v in FastMath.exp(FastMath.min(v, zero)).replacing(with: 1, where: v .> 0) }
        case (.elu, _): m(x, y, n) { v in FastMath.exp(FastMath.min(v, zero)).replacing(with: 0, where: v .> 0) }
        case (.sigmoid, 0): m(x, y, n) { FastMath.sigmoid($0) }
        case (.sigmoid, 1): m(x, y, n) { Pointwise.sigmoidDerivative(FastMath.sigmoid($0), 1) }
        case (.sigmoid, 2): m(x, y, n) { Pointwise.sigmoidDerivative(FastMath.sigmoid($0), 2) }
        case (.sigmoid, _): m(x, y, n) { Pointwise.sigmoidDerivative(FastMath.sigmoid($0), 3) }
        case (.softplus, 0): m(x, y, n) { FastMath.softplus($0) }
        case (.softplus, let k): Pointwise.sigmoid.applyVector(order: k - 1, x, y, n)
        case (.logSigmoid, 0): m(x, y, n) { -FastMath.softplus(-$0) }
        case (.logSigmoid, 1): m(x, y, n) { FastMath.sigmoid(-$0) }
        case (.logSigmoid, 2): m(x, y, n) { -Pointwise.sigmoidDerivative(FastMath.sigmoid($0), 1) }
        case (.logSigmoid, _): m(x, y, n) { -Pointwise.sigmoidDerivative(FastMath.sigmoid($0), 2) }
        case (.tanh, 0): m(x, y, n) { FastMath.tanh($0) }
        case (.tanh, 1): m(x, y, n) { Pointwise.tanhDerivative(FastMath.tanh($0), 1) }
        case (.tanh, 2): m(x, y, n) { Pointwise.tanhDerivative(FastMath.tanh($0), 2) }
        case (.tanh, _): m(x, y, n) { Pointwise.tanhDerivative(FastMath.tanh($0), 3) }
        case (.silu, 0): m(x, y, n) { $0 * FastMath.sigmoid($0) }
        case (.silu, 1): m(x, y, n) { v in let s = FastMath.sigmoid(v); return s + v * Pointwise.sigmoidDerivative(s, 1) }
        case (.silu, 2): m(x, y, n) { v in
            let s = FastMath.sigmoid(v)
            return 2 * Pointwise.sigmoidDerivative(s, 1) + v * Pointwise.sigmoidDerivative(s, 2)
        }
        case (.silu, _): m(x, y, n) { v in
            // (xσ)‴ = 3σ″ + xσ‴
            let s = FastMath.sigmoid(v)
            return 3 * Pointwise.sigmoidDerivative(s, 2) + v * Pointwise.sigmoidDerivative(s, 3)
        }
        case (.exp, _): m(x, y, n) { FastMath.exp($0) }
        case (.log, 0): m(x, y, n) { FastMath.log($0) }
        case (.log, 1): m(x, y, n) { one / $0 }
        case (.log, 2): m(x, y, n) { -one / ($0 * $0) }
        case (.log, _): m(x, y, n) { 2 / ($0 * $0 * $0) }
        case (.square, 0): m(x, y, n) { $0 * $0 }
        case (.square, 1): m(x, y, n) { 2 * $0 }
        case (.square, 2): m(x, y, n) { _ in V(repeating: 2) }
        case (.square, _): m(x, y, n) { _ in zero }
        case (.sqrt, 0): m(x, y, n) { $0.squareRoot() }
        case (.sqrt, 1): m(x, y, n) { 0.5 / $0.squareRoot() }
        case (.sqrt, 2): m(x, y, n) { -0.25 / ($0 * $0.squareRoot()) }
        case (.sqrt, _): m(x, y, n) { 0.375 / ($0 * $0 * $0.squareRoot()) }
        case (.reciprocal, 0): m(x, y, n) { one / $0 }
        case (.reciprocal, 1): m(x, y, n) { -one / ($0 * $0) }
        case (.reciprocal, 2): m(x, y, n) { 2 / ($0 * $0 * $0) }
        case (.reciprocal, _): m(x, y, n) { -6 / ($0 * $0 * $0 * $0) }
        case (.sin, _), (.cos, _): preconditionFailure("sin and cos are applied lane by lane")
        }
    }

    /// σ⁽ᵏ⁾ for k = 1, 2, 3 from s = σ(x).
    @inline(__always)
    static func sigmoidDerivative(_ s: FastMath.V, _ k: Int) -> FastMath.V {
        let one = FastMath.V(repeating: 1)
        let d1: FastMath.V = s * (one - s)
        switch k {
        case 1: return d1
        case 2: return d1 * (one - 2 * s)
        default:
            let q: FastMath.V = one - 6 * s + 6 * (s * s)
            return d1 * q
        }
    }

    /// tanh⁽ᵏ⁾ for k = 1, 2, 3 from t = tanh(x).
    @inline(__always)
    static func tanhDerivative(_ t: FastMath.V, _ k: Int) -> FastMath.V {
        let one = FastMath.V(repeating: 1)
        let d1: FastMath.V = one - t * t
        switch k {
        case 1: return d1
        case 2: return -2 * t * d1
        default:
            let q: FastMath.V = one - 3 * (t * t)
            return -2 * d1 * q
        }
    }

    /// f⁽ᵒʳᵈᵉʳ⁾ of one scalar (for tests and the few scalar uses).
    public func callAsFunction(_ x: Float, order: Int = 0) -> Float {
        var inp = x, out: Float = 0
        apply(order: order, &inp, &out, 1)
        return out
    }
}

import Foundation
