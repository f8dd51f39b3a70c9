/// f⁽ᵏ⁾ on sixteen lanes for each function of `Pointwise` (orders 0…3; see its table).
protocol VectorKernel {
    static func apply(_ x: FastMath.V, _ k: Int) -> FastMath.V
}

typealias V = FastMath.V

enum ReLUKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        switch k {
        case 0: return FastMath.max(x, .zero)
        case 1: return V.zero.replacing(with: 1, where: x .> 0)
        default: return .zero
        }
    }
}

enum ELUKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        let e = FastMath.exp(FastMath.min(x, .zero))
        switch k {
        case 0: return (e - 1).replacing(with: x, where: x .> 0)
        case 1: return e.replacing(with: 1, where: x .> 0)
        default: return e.replacing(with: 0, where: x .> 0)
        }
    }
}

enum SigmoidKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        let s = FastMath.sigmoid(x)
        return k == 0 ? s : Pointwise.sigmoidDerivative(s, k)
    }
}

enum SoftplusKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        k == 0 ? FastMath.softplus(x) : SigmoidKernel.apply(x, k - 1)
    }
}

enum LogSigmoidKernel: VectorKernel {
    /// log σ(x) = −softplus(−x); its derivative is σ(−x) = 1 − σ(x), then −σ′, −σ″.
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        switch k {
        case 0: return -FastMath.softplus(-x)
        case 1: return FastMath.sigmoid(-x)
        default: return -Pointwise.sigmoidDerivative(FastMath.sigmoid(x), k - 1)
        }
    }
}

enum TanhKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        let t = FastMath.tanh(x)
        return k == 0 ? t : Pointwise.tanhDerivative(t, k)
    }
}

enum SiLUKernel: VectorKernel {
    /// (xσ)⁽ᵏ⁾ = k·σ⁽ᵏ⁻¹⁾ + x·σ⁽ᵏ⁾.
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        let s = FastMath.sigmoid(x)
        if k == 0 { return x * s }
        let lower: V = k == 1 ? s : Pointwise.sigmoidDerivative(s, k - 1)
        return V(repeating: Float(k)) * lower + x * Pointwise.sigmoidDerivative(s, k)
    }
}

enum ExpKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V { FastMath.exp(x) }
}

enum LogKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        switch k {
        case 0: return FastMath.log(x)
        case 1: return 1 / x
        case 2: return -1 / (x * x)
        default: return 2 / (x * x * x)
        }
    }
}

enum SquareKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        switch k {
        case 0: return x * x
        case 1: return 2 * x
        case 2: return V(repeating: 2)
        default: return .zero
        }
    }
}

enum SqrtKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        let r = FastMath.sqrt(x)
        switch k {
        case 0: return r
        case 1: return 0.5 / r
        case 2: return -0.25 / (x * r)
        default: return 0.375 / (x * x * r)
        }
    }
}

enum ReciprocalKernel: VectorKernel {
    @inline(__always) static func apply(_ x: V, _ k: Int) -> V {
        switch k {
        case 0: return 1 / x
        case 1: return -1 / (x * x)
        case 2: return 2 / (x * x * x)
        default: return -6 / (x * x * x * x)
        }
    }
}
