/// Langevin Monte Carlo (the unadjusted Langevin algorithm): x ← x + ε ∇ₓ log p(x) + √(2ε) z, z ~ N(0, I),
/// which samples p as ε → 0 and the number of steps → ∞. The score is read at the fixed noise level `t`
/// (0 for unconditional models and log-densities).
public struct LangevinDynamics: Sampler {
    public var stepSize: Double
    public var steps: Int
    public var start: ChainStart
    public var t: Double

    public init(stepSize: Double = 1e-3, steps: Int = 1000, start: ChainStart = .uniform(low: -1, high: 1), t: Double = 0) {
        precondition(stepSize > 0 && steps >= 1)
        self.stepSize = stepSize
        self.steps = steps
        self.start = start
        self.t = t
    }

    public func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                       control: SamplingControl?) throws -> SampleBatch {
        var streams = RowStreams(seed: seed, first: first, count: count)
        let full = [count] + shape
        var x = start.draw(full, &streams)
        let tape = Tape(recording: false)
        let times = [Double](repeating: t, count: count)
        let eps = Float(stepSize), noiseScale = Float((2 * stepSize).squareRoot())
        for k in 0..<steps {
            try control?.check()
            let s = evaluateScore(score, x, times, tape: tape)
            let z = streams.gaussian(full)
            x.addScaled(s, eps)
            x.addScaled(z, noiseScale)
            if k % 10 == 9 { control?.report(first: first, rows: count, fraction: Double(k + 1) / Double(steps)) }
            control?.preview(first: first, step: k + 1, total: steps) { [x] in (x, nil) }
        }
        control?.report(first: first, rows: count, fraction: 1)
        return SampleBatch(x: x, nfe: steps)
    }
}

extension LangevinDynamics {
    /// The noise level at which a model trained on an SDE is read: the smallest it was sampled at (ε).
    public static let sdeReadTime = 1e-3

    /// Langevin Monte Carlo on the model's score at its smallest noise level.
    public static let entry = SamplerEntry(
        name: "langevin", summary: "Langevin Monte Carlo on the score at the smallest noise level, from a Gaussian or uniform start",
        families: NoiseSchedule.Family.allCases,
        parameters: [
            SamplerParameters.steps(default: 1000, help: "chain length"),
            SamplerParameters.stepSize(1e-3, "ε in x ← x + ε s(x) + √(2ε) z"),
            Parameter("init", .choice(["gaussian", "uniform"]), default: .value("gaussian"),
                      help: "where the chains start: N(0, init_std² I), or uniform on [−init_range, init_range]ᵈ"),
            Parameter("init_std", .number(.above(0, upTo: 1e4)),
                      default: .derived("the prior's standard deviation (σ_max for VE and NCSN models), else 1") { source in
                          switch source.schedule {
                          case .sde(let s): return .number(s.priorStd)
                          case .ladder(let l): return .number(l.sigmaMax)
                          default: return 1
                          }
                      },
                      help: "standard deviation of the Gaussian start", when: .init("init", in: ["gaussian"])),
            Parameter("init_range", .number(.above(0, upTo: 1e4)), default: .value(1),
                      help: "half-width r of the uniform start on [−r, r]ᵈ", when: .init("init", in: ["uniform"])),
        ],
        make: { v, source in
            let start: ChainStart = v.string("init") == "uniform"
                ? .uniform(low: -Float(v.double("init_range")), high: Float(v.double("init_range")))
                : .gaussian(std: Float(v.double("init_std")))
            return LangevinDynamics(stepSize: v.double("step_size"), steps: v.int("steps"), start: start,
                                    t: source.schedule.family == .sde ? sdeReadTime : 0)
        })
}
