/// Sampling by the probability-flow ODE (Song et al. 2021, eq. 13): dx/dt = f(x, t) − ½ g(t)² s_θ(x, t),
/// integrated from a prior draw at T down to ε. Deterministic given the prior draw; adaptive Dormand–Prince
/// 5(4) by default, or a fixed-step method. `denoise` adds Tweedie's step at ε.
public struct ProbabilityFlowODESampler: Sampler {
    public var sde: any SDE
    public var solver: ODESolver
    public var epsilon: Double
    public var denoise: Bool

    public init(sde: any SDE, solver: ODESolver = ODESolver(), epsilon: Double = 1e-3, denoise: Bool = false) {
        precondition(epsilon > 0 && epsilon < sde.T)
        self.sde = sde
        self.solver = solver
        self.epsilon = epsilon
        self.denoise = denoise
    }

    public var description: String {
        switch solver.method {
        case .adaptive(let rtol, let atol): return "ode(\(solver.tableau.name), rtol=\(rtol), atol=\(atol))"
        case .fixed(let n): return "ode(\(solver.tableau.name), steps=\(n))"
        }
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let x0 = sde.priorSample([count] + shape, streams: &streams)
        let tape = Tape(recording: false)
        let sde = self.sde
        var (x, nfe) = try solver.solve(x0, from: sde.T, to: epsilon, progress: {
            control?.report(first: first, rows: count, fraction: $0)
        }) { x, t, _ in
            try control?.check()
            tape.reset()
            let xv = tape.constant(x)
            return sde.probabilityFlow(xv, score: score.score(xv, t: t), t: t).value
        }
        if denoise {
            let s = evaluateScore(score, x, [Double](repeating: epsilon, count: count), tape: tape)
            x = tweedieDenoise(x, score: s, t: epsilon, perturbation: sde)
            nfe += 1
        }
        return SampleBatch(x: x, nfe: nfe)
    }
}
