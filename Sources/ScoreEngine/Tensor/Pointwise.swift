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
    case relu, elu, sigmoid, softplus, logSigmoid = "log_sigmoid", tanh, silu
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

    /// One loop per function and derivative order, generic over its kernel so that the kernel is inlined
    /// into the loop with its order known (closures of this size are not inlined, which cost a call per
    /// vector, and an order known only at run time kept the kernels' switches in the loop).
    static func map<K: VectorKernel>(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                     _ order: Int, _: K.Type) {
        switch order {
        case 0: mapLoop(x, y, n, 0, K.self)
        case 1: mapLoop(x, y, n, 1, K.self)
        case 2: mapLoop(x, y, n, 2, K.self)
        default: mapLoop(x, y, n, order, K.self)
        }
    }

    /// Two vectors (of sixteen lanes) per iteration, so that the out-of-order core overlaps their chains.
    @inline(__always)
    static func mapLoop<K: VectorKernel>(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                         _ order: Int, _: K.Type) {
        typealias V = FastMath.V
        @inline(__always) func load(_ i: Int) -> V { UnsafeRawPointer(x + i).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ i: Int) { UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: V.self) }
        let w = V.scalarCount
        var i = 0
        while i + 2 * w <= n {
            let a = K.apply(load(i), order), b = K.apply(load(i + w), order)
            store(a, i); store(b, i + w)
            i += 2 * w
        }
        while i + w <= n {
            store(K.apply(load(i), order), i)
            i += w
        }
        if i < n {
            var v = V(repeating: 1)
            for j in 0..<(n - i) { v[j] = x[i + j] }
            let r = K.apply(v, order)
            for j in 0..<(n - i) { y[i + j] = r[j] }
        }
    }

    func applyVector(order k: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .relu: Pointwise.map(x, y, n, k, ReLUKernel.self)
        case .elu: Pointwise.map(x, y, n, k, ELUKernel.self)
        case .sigmoid: Pointwise.map(x, y, n, k, SigmoidKernel.self)
        case .softplus: Pointwise.map(x, y, n, k, SoftplusKernel.self)
        case .logSigmoid: Pointwise.map(x, y, n, k, LogSigmoidKernel.self)
        case .tanh: Pointwise.map(x, y, n, k, TanhKernel.self)
        case .silu: Pointwise.map(x, y, n, k, SiLUKernel.self)
        case .exp: Pointwise.map(x, y, n, k, ExpKernel.self)
        case .log: Pointwise.map(x, y, n, k, LogKernel.self)
        case .square: Pointwise.map(x, y, n, k, SquareKernel.self)
        case .sqrt: Pointwise.map(x, y, n, k, SqrtKernel.self)
        case .reciprocal: Pointwise.map(x, y, n, k, ReciprocalKernel.self)
        case .sin, .cos: preconditionFailure("sin and cos are applied lane by lane")
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
