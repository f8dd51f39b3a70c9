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
            let f = self.vectorFunction(order: order)
            Pointwise.map(x, y, n, f)
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

    // swiftlint:disable:next cyclomatic_complexity
    func vectorFunction(order: Int) -> (FastMath.V) -> FastMath.V {
        typealias V = FastMath.V
        let zero = V.zero, one = V(repeating: 1)
        switch (self, order) {
        case (.relu, 0): return { pointwiseMax($0, zero) }
        case (.relu, 1): return { zero.replacing(with: 1, where: $0 .> 0) }
        case (.relu, _): return { _ in zero }
        case (.elu, 0): return { x in (FastMath.exp(pointwiseMin(x, zero)) - 1).replacing(with: x, where: x .> 0) }
        case (.elu, 1): return { x in FastMath.exp(pointwiseMin(x, zero)).replacing(with: 1, where: x .> 0) }
        case (.elu, _): return { x in FastMath.exp(pointwiseMin(x, zero)).replacing(with: 0, where: x .> 0) }
        case (.sigmoid, 0): return FastMath.sigmoid
        case (.sigmoid, let k): return { Pointwise.sigmoidDerivative(FastMath.sigmoid($0), k) }
        case (.softplus, 0): return FastMath.softplus
        case (.softplus, let k): return Pointwise.sigmoid.vectorFunction(order: k - 1)
        case (.logSigmoid, 0): return { -FastMath.softplus(-$0) }
        case (.logSigmoid, 1): return { FastMath.sigmoid(-$0) }
        case (.logSigmoid, let k): return { -Pointwise.sigmoidDerivative(FastMath.sigmoid($0), k - 1) }
        case (.tanh, 0): return FastMath.tanh
        case (.tanh, let k): return { Pointwise.tanhDerivative(FastMath.tanh($0), k) }
        case (.silu, 0): return { $0 * FastMath.sigmoid($0) }
        case (.silu, let k): return { x in
            // (xσ)⁽ᵏ⁾ = k·σ⁽ᵏ⁻¹⁾ + x·σ⁽ᵏ⁾
            let s = FastMath.sigmoid(x)
            let lower: V = k == 1 ? s : Pointwise.sigmoidDerivative(s, k - 1)
            let upper: V = Pointwise.sigmoidDerivative(s, k)
            return V(repeating: Float(k)) * lower + x * upper
        }
        case (.exp, _): return FastMath.exp
        case (.log, 0): return FastMath.log
        case (.log, 1): return { 1 / $0 }
        case (.log, 2): return { -1 / ($0 * $0) }
        case (.log, _): return { 2 / ($0 * $0 * $0) }
        case (.square, 0): return { $0 * $0 }
        case (.square, 1): return { 2 * $0 }
        case (.square, 2): return { _ in V(repeating: 2) }
        case (.square, _): return { _ in zero }
        case (.sqrt, 0): return { $0.squareRoot() }
        case (.sqrt, 1): return { 0.5 / $0.squareRoot() }
        case (.sqrt, 2): return { -0.25 / ($0 * $0.squareRoot()) }
        case (.sqrt, _): return { 0.375 / ($0 * $0 * $0.squareRoot()) }
        case (.reciprocal, 0): return { one / $0 }
        case (.reciprocal, 1): return { -1 / ($0 * $0) }
        case (.reciprocal, 2): return { 2 / ($0 * $0 * $0) }
        case (.reciprocal, _): return { -6 / ($0 * $0 * $0 * $0) }
        case (.sin, _), (.cos, _): fatalError("sin and cos are applied lane by lane")
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
