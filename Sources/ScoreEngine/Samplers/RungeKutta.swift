import Foundation

/// An explicit Runge–Kutta method: nodes c, matrix a, weights b, and for embedded pairs the error weights
/// e = b − b̂ of the lower-order solution.
public struct ButcherTableau: Sendable {
    public let name: String
    public let c: [Double]
    public let a: [[Double]]
    public let b: [Double]
    public let e: [Double]?
    /// Order of the propagated solution (sets the step-size exponent 1/(q + 1) with q the lower order).
    public let errorOrder: Int
    /// First-same-as-last: the last stage is f at the new point, reused as the next step's first stage.
    public let fsal: Bool

    public var stages: Int { c.count }

    /// Dormand–Prince 5(4) (Dormand & Prince 1980), the method of scipy's RK45, with its error weights.
    public static let dormandPrince = ButcherTableau(
        name: "rk45",
        c: [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1],
        a: [[], [1.0 / 5], [3.0 / 40, 9.0 / 40], [44.0 / 45, -56.0 / 15, 32.0 / 9],
            [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
            [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
            [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84]],
        b: [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0],
        e: [-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40],
        errorOrder: 4, fsal: true)

    public static let euler = ButcherTableau(name: "euler", c: [0], a: [[]], b: [1], e: nil, errorOrder: 1, fsal: false)
    /// Heun's method (explicit trapezoid).
    public static let heun = ButcherTableau(name: "heun", c: [0, 1], a: [[], [1]], b: [0.5, 0.5], e: nil,
                                            errorOrder: 2, fsal: false)
    /// The classical fourth-order method.
    public static let rk4 = ButcherTableau(name: "rk4", c: [0, 0.5, 0.5, 1], a: [[], [0.5], [0, 0.5], [0, 0, 1]],
                                           b: [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6], e: nil, errorOrder: 4, fsal: false)
}

/// Integrates dy/dt = f(y, t) for every row of y ([rows, D]) from t₀ to t₁, either with an embedded pair and
/// a step size per row (error control as scipy's `solve_ivp`: RMS norm of the error over
/// atol + rtol·max(|y|, |y_new|), factor 0.9·err^{−1/5} within [0.2, 10]), or with N equal steps.
/// Rows are independent: each has its own t and h, so a row's solution does not depend on its neighbours.
/// `f` receives the active rows, their times and their indices in y₀. NFE counts batched evaluations of f.
public struct ODESolver: Sendable {
    public enum Method: Sendable, Equatable {
        case adaptive(rtol: Double, atol: Double)
        case fixed(steps: Int)
    }

    public var tableau: ButcherTableau
    public var method: Method
    /// Give up (error) after this many steps of one row.
    public var maxSteps = 100_000

    public init(tableau: ButcherTableau = .dormandPrince, method: Method = .adaptive(rtol: 1e-5, atol: 1e-5)) {
        if case .adaptive = method { precondition(tableau.e != nil, "adaptive stepping needs an embedded pair") }
        self.tableau = tableau
        self.method = method
    }

    public struct StepFailure: Error, CustomStringConvertible {
        public let description: String
    }

    public typealias RHS = (Tensor, [Double], [Int]) throws -> Tensor

    /// The solver after a step: the fraction of the span covered (averaged over rows), the steps taken, the
    /// steps in all when they are fixed (nil for adaptive stepping), whether every row has arrived, and the state
    /// (each row at its own time).
    public struct Progress {
        public let fraction: Double
        public let step: Int
        public let steps: Int?
        public let finished: Bool
        public let state: Tensor
    }
    public typealias ProgressHandler = (Progress) -> Void

    public func solve(_ y0: Tensor, from t0: Double, to t1: Double, progress: ProgressHandler? = nil,
                      _ f: RHS) throws -> (y: Tensor, nfe: Int) {
        switch method {
        case .fixed(let n): return try fixed(y0, t0, t1, n, progress, f)
        case .adaptive(let rtol, let atol): return try adaptive(y0, t0, t1, rtol, atol, progress, f)
        }
    }

    /// y + Σⱼ wⱼ·(hᵢ kⱼ) row-wise.
    func combine(_ y: Tensor, _ ks: [Tensor], _ w: [Double], _ h: [Double]) -> Tensor {
        var acc = Tensor.zeros(y.shape)
        for (j, k) in ks.enumerated() where j < w.count && w[j] != 0 { acc.addScaled(k, Float(w[j])) }
        return y + acc.scaledRows(h.map { Float($0) })
    }

    func fixed(_ y0: Tensor, _ t0: Double, _ t1: Double, _ n: Int, _ progress: ProgressHandler?,
               _ f: RHS) throws -> (y: Tensor, nfe: Int) {
        precondition(n >= 1)
        let rows = y0.shape[0], h = (t1 - t0) / Double(n)
        let hs = [Double](repeating: h, count: rows)
        let all = Array(0..<rows)
        var y = y0, nfe = 0
        for step in 0..<n {
            let t = t0 + Double(step) * h
            var ks: [Tensor] = []
            for s in 0..<tableau.stages {
                let ys = s == 0 ? y : combine(y, ks, tableau.a[s], hs)
                ks.append(try f(ys, [Double](repeating: t + tableau.c[s] * h, count: rows), all))
                nfe += 1
            }
            y = combine(y, ks, tableau.b, hs)
            progress?(Progress(fraction: Double(step + 1) / Double(n), step: step + 1, steps: n, finished: step + 1 == n, state: y))
        }
        return (y, nfe)
    }

    /// RMS over a row of v/(atol + rtol·max(|a|, |b|)).
    static func rowNorms(_ v: Tensor, _ a: Tensor, _ b: Tensor, _ rtol: Double, _ atol: Double) -> [Double] {
        let n = v.shape[0], d = v.count / max(n, 1)
        return (0..<n).map { i in
            var s = 0.0
            for j in 0..<d {
                let k = i * d + j
                let scale = atol + rtol * Double(max(abs(a.scalars[k]), abs(b.scalars[k])))
                let q = Double(v.scalars[k]) / scale
                s += q * q
            }
            return (s / Double(max(d, 1))).squareRoot()
        }
    }

    func adaptive(_ y0: Tensor, _ t0: Double, _ t1: Double, _ rtol: Double, _ atol: Double,
                  _ progress: ProgressHandler?, _ f: RHS) throws -> (y: Tensor, nfe: Int) {
        let rows = y0.shape[0]
        let dir: Double = t1 >= t0 ? 1 : -1
        let span = abs(t1 - t0)
        var y = y0
        var t = [Double](repeating: t0, count: rows)
        let all = Array(0..<rows)
        var f0 = try f(y0, t, all)
        var nfe = 1
        // Initial step (Hairer, Nørsett & Wanner, as scipy's select_initial_step), per row.
        let d0 = ODESolver.rowNorms(y0, y0, y0, rtol, atol), d1 = ODESolver.rowNorms(f0, y0, y0, rtol, atol)
        let h0 = (0..<rows).map { i in d0[i] < 1e-5 || d1[i] < 1e-5 ? 1e-6 : 0.01 * d0[i] / d1[i] }
        let y1 = combine(y0, [f0], [1], h0.map { $0 * dir })
        let f1 = try f(y1, h0.map { t0 + dir * $0 }, all)
        nfe += 1
        let d2 = ODESolver.rowNorms(f1 - f0, y0, y0, rtol, atol)
        let q = Double(tableau.errorOrder + 1)
        var h: [Double] = (0..<rows).map { i in
            let d2i = d2[i] / h0[i]
            let h1 = max(d1[i], d2i) <= 1e-15 ? max(1e-6, h0[i] * 1e-3) : Foundation.pow(0.01 / max(d1[i], d2i), 1 / q)
            return min(100 * h0[i], h1, span)
        }
        var rejectedLast = [Bool](repeating: false, count: rows)
        var stepsTaken = [Int](repeating: 0, count: rows)
        var active = Array(0..<rows)
        var iterations = 0
        let e = tableau.e!
        let exponent = -1 / q
        while !active.isEmpty {
            let Y = y.rows(at: active)
            let F = f0.rows(at: active)
            let H: [Double] = active.map { i in min(h[i], abs(t1 - t[i])) * dir }
            let T = active.map { t[$0] }
            var ks = [F]
            for s in 1..<tableau.stages {
                let ys = combine(Y, ks, tableau.a[s], H)
                ks.append(try f(ys, zip(T, H).map { $0 + tableau.c[s] * $1 }, active))
                nfe += 1
            }
            let yNew = combine(Y, ks, tableau.b, H)
            let fNew = tableau.fsal ? ks[tableau.stages - 1] : try f(yNew, zip(T, H).map { $0 + $1 }, active)
            if !tableau.fsal { nfe += 1 }
            let errVec = combine(Tensor.zeros(Y.shape), ks, e, H)
            let err = ODESolver.rowNorms(errVec, Y, yNew, rtol, atol)
            var stillActive: [Int] = []
            for (k, i) in active.enumerated() {
                stepsTaken[i] += 1
                if stepsTaken[i] > maxSteps {
                    throw StepFailure(description: "ODE solver took more than \(maxSteps) steps (rtol \(rtol), atol \(atol))")
                }
                let errK = err[k].isFinite ? err[k] : .infinity
                if errK <= 1 {
                    let factor = errK == 0 ? 10 : min(10, 0.9 * Foundation.pow(errK, exponent))
                    t[i] += H[k]
                    copyRow(from: yNew, k, to: &y, i)
                    copyRow(from: fNew, k, to: &f0, i)
                    h[i] = abs(H[k]) * (rejectedLast[i] ? min(1, factor) : factor)
                    rejectedLast[i] = false
                    if abs(t[i] - t0) >= span * (1 - 1e-12) { t[i] = t1; continue }
                } else {
                    let factor = errK.isFinite ? max(0.2, 0.9 * Foundation.pow(errK, exponent)) : 0.2
                    h[i] = abs(H[k]) * factor
                    rejectedLast[i] = true
                    if h[i] < 1e-12 * max(span, 1) {
                        throw StepFailure(description: "ODE step size underflow at t = \(t[i]) (the score is not finite or too stiff)")
                    }
                }
                stillActive.append(i)
            }
            active = stillActive
            iterations += 1
            if let progress {
                let doneFrac = active.isEmpty ? 1 : min(t.reduce(0.0) { $0 + abs($1 - t0) } / (span * Double(rows)), 1)
                progress(Progress(fraction: doneFrac, step: iterations, steps: nil, finished: active.isEmpty, state: y))
            }
        }
        return (y, nfe)
    }

    func copyRow(from src: Tensor, _ k: Int, to dst: inout Tensor, _ i: Int) {
        let d = src.count / max(src.shape[0], 1)
        for j in 0..<d { dst.scalars[i * d + j] = src.scalars[k * d + j] }
    }
}
