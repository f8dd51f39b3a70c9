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

    public var description: String { "langevin(eps=\(stepSize), steps=\(steps))" }

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
        }
        control?.report(first: first, rows: count, fraction: 1)
        return SampleBatch(x: x, nfe: steps)
    }
}
