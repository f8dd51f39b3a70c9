import ScoreEngine
import Testing

/// Every taped operation against finite differences, to first order and (through its backward pass) to
/// second order.
@Suite struct OpGradientTests {
    var rng = Philox(seed: 42)

    mutating func g(_ shape: [Int]) -> Tensor { rng.gaussian(shape) }

    @Test mutating func broadcastingArithmetic() {
        let shapes: [([Int], [Int])] = [([3, 4], [3, 4]), ([3, 4], [4]), ([3, 4], [3, 1]), ([2, 3, 4], [1, 3, 1]),
                                        ([3, 4], []), ([1, 4], [3, 1])]
        for (sa, sb) in shapes {
            let a = g(sa), b = g(sb)
            let bPos = b.map(.exp).shifted(by: 0.5)  // keep divisors away from zero
            GradCheck.first([a, b]) { v in ((v[0] + v[1]) * (v[0] - v[1])).sum() }
            GradCheck.first([a, b]) { v in (v[0] * v[1]).sum() }
            GradCheck.first([a, bPos]) { v in (v[0] / v[1]).sum() }
            GradCheck.second([a, b]) { v in (v[0] * v[1] * v[0]).sum() }
            GradCheck.second([a, bPos]) { v in (v[0] * v[0] / v[1]).sum() }
            GradCheck.second([bPos, a]) { v in (v[1] / v[0]).sum() }
        }
    }

    @Test mutating func scalarOps() {
        let a = g([5])
        GradCheck.first([a]) { v in ((v[0] * 3 + 1) * (2 - v[0]) / 4).sum() }
        GradCheck.second([a]) { v in ((-v[0] * 3 + 1) * v[0]).sum() }
    }

    /// f⁽ᵏ⁺¹⁾ is the derivative of f⁽ᵏ⁾ for every pointwise function and order, checked by differencing the
    /// function itself (not the tape).
    @Test func pointwiseDerivativeTable() {
        for f in Pointwise.allCases {
            let xs: [Float]
            switch f {
            case .log, .sqrt, .reciprocal: xs = [0.3, 0.7, 1.3, 2.9]
            case .relu, .elu: xs = [-2.1, -0.4, 0.3, 1.7]  // away from the kink
            default: xs = [-3.1, -1.2, -0.3, 0.05, 0.4, 0.9, 2.2, 4.5]
            }
            for order in 0..<Pointwise.maxOrder {
                for x in xs {
                    // Central differences with one Richardson step: truncation O(h⁴).
                    func d(_ h: Float) -> Double {
                        (Double(f(x + h, order: order)) - Double(f(x - h, order: order))) / (2 * Double(h))
                    }
                    let fd = (4 * d(5e-3) - d(1e-2)) / 3
                    let an = Double(f(x, order: order + 1))
                    #expect(abs(fd - an) <= 2e-3 * max(1, abs(an)), "\(f) order \(order) at \(x): fd \(fd) vs \(an)")
                }
            }
        }
    }

    /// The fast vectorised functions against Foundation's double-precision ones.
    @Test func pointwiseValues() {
        let xs: [Float] = stride(from: -20, through: 20, by: 0.37).map { Float($0) }
        for x in xs {
            let d = Double(x)
            let sig = 1 / (1 + Foundation.exp(-d))
            let checks: [(Pointwise, Double)] = [
                (.sigmoid, sig), (.softplus, Foundation.log1p(Foundation.exp(-abs(d))) + max(d, 0)),
                (.logSigmoid, -(Foundation.log1p(Foundation.exp(-abs(d))) + max(-d, 0))), (.tanh, Foundation.tanh(d)),
                (.silu, d * sig), (.exp, Foundation.exp(d)), (.elu, d > 0 ? d : Foundation.expm1(d)),
                (.relu, max(d, 0)),
            ]
            for (f, ref) in checks {
                let v = Double(f(x))
                #expect(abs(v - ref) <= 4e-7 * max(1, abs(ref)), "\(f)(\(x)) = \(v), expected \(ref)")
            }
            if x > 0 {
                #expect(abs(Double(Pointwise.log(x)) - Foundation.log(d)) <= 3e-7 * max(1, abs(Foundation.log(d))))
            }
        }
        #expect(Pointwise.log(0) == -.infinity)
        #expect(Pointwise.exp(-100) == 0)
        #expect(Pointwise.logSigmoid(30) < 0 && Pointwise.logSigmoid(30) > -1e-12)
    }

    @Test mutating func pointwiseOnTape() {
        let a = g([2, 9])
        let pos = a.map(.exp).shifted(by: 0.2)
        for f in Pointwise.allCases {
            let x = [.log, .sqrt, .reciprocal].contains(f) ? pos : a
            if f == .relu { continue }  // second derivative zero, first piecewise constant: checked in the table
            GradCheck.first([x], tolerance: 3e-3) { v in v[0].apply(f).sum() }
            GradCheck.second([x], tolerance: 4e-3) { v in (v[0].apply(f) * v[0]).sum() }
        }
    }

    @Test mutating func matmulAllTranspositions() {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = g(ta ? [4, 3] : [3, 4]), b = g(tb ? [5, 4] : [4, 5])
                GradCheck.first([a, b]) { v in v[0].matmul(v[1], transA: ta, transB: tb).apply(.tanh).sum() }
                GradCheck.second([a, b]) { v in v[0].matmul(v[1], transA: ta, transB: tb).apply(.tanh).sum() }
                GradCheck.second([b, a]) { v in v[1].matmul(v[0], transA: ta, transB: tb).apply(.tanh).sum() }
            }
        }
    }

    @Test mutating func shapeOps() {
        let a = g([2, 3, 4]), b = g([2, 2, 4]), w = g([2, 5, 4])
        GradCheck.first([a]) { v in (v[0].sum(to: [1, 3, 1]).apply(.sin)).sum() }
        GradCheck.first([a]) { v in (v[0].sum(axis: 1).apply(.sin)).sum() }
        GradCheck.first([g([3, 1])]) { v in (v[0].expand(to: [2, 3, 4]) * a).apply(.tanh).sum() }
        GradCheck.first([a]) { v in (v[0].reshaped([6, 4]).transposed().matmul(v[0].reshaped([6, 4]))).sum() }
        GradCheck.first([a, b]) { v in (Var.concatenate([v[0], v[1]], axis: 1) * w).apply(.tanh).sum() }
        GradCheck.first([a]) { v in (v[0].slice(axis: 2, 1..<3).apply(.sin) * 2).sum() }
        GradCheck.first([a]) { v in (v[0].padded(axis: 0, start: 1, length: 4).apply(.cos)).sum() }
        GradCheck.second([a]) { v in (v[0].sum(to: [2, 1, 4]).squared()).sum() }
        GradCheck.second([a, b]) { v in (Var.concatenate([v[0], v[1]], axis: 1).squared() * w).sum() }
        GradCheck.second([a]) { v in (v[0].slice(axis: 1, 1..<3).squared()).sum() }
        GradCheck.second([a]) { v in (v[0].sumPerRow().squared()).sum() }
    }

    @Test func gradientOfUnrelatedLeafIsZero() {
        let tape = Tape()
        let a = tape.variable(Tensor(rows: [[1, 2]])), b = tape.variable(Tensor(rows: [[3, 4]]))
        let y = (a * a).sum()
        let gb = tape.gradient(of: y, wrt: b)
        #expect(gb.value == Tensor.zeros([1, 2]))
        let ga = tape.gradient(of: y, wrt: a)
        #expect(ga.value == Tensor(rows: [[2, 4]]))
    }

    /// Without createGraph the gradient carries no history; with it, it does.
    @Test func createGraphControlsHistory() {
        let tape = Tape()
        let a = tape.variable(Tensor(rows: [[1, 2]]))
        let y = (a * a * a).sum()
        #expect(!tape.gradient(of: y, wrt: a).requiresGrad)
        let g = tape.gradient(of: y, wrt: a, createGraph: true)
        #expect(g.requiresGrad)
        let h = tape.gradient(of: g.sum(), wrt: a)  // d/da Σ 3a² = 6a
        #expect(h.value == Tensor(rows: [[6, 12]]))
    }
}

import Foundation
