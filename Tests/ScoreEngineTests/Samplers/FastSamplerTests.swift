import Foundation
import ScoreEngine
import Testing

/// The few-step samplers, driven by the exact score of Gaussian data (whose probability-flow map and marginals
/// are known in closed form): the deterministic ones converge to the exact flow at their order (halving the
/// step divides the error by about 2 for Euler and DDIM, 4 for Heun and DPM-Solver++ 2M), 3M is more accurate
/// than 2M at every budget, and every one reproduces the data's mean and covariance within tolerances set by
/// the sample size.
@Suite struct FastSamplerTests {
    static let rotation = [cos(0.4), -sin(0.4), sin(0.4), cos(0.4)]
    static func gaussian(_ sde: any SDE) -> GaussianScore {
        GaussianScore(mean: [1, -0.5], rotation: rotation, variances: [0.25, 0.04], perturbation: sde)
    }
    static let sdes: [String: any SDE] = ["ve": VESDE(sigmaMin: 0.01, sigmaMax: 5), "vp": VPSDE(), "subvp": SubVPSDE()]

    static func sampler(_ name: String, _ sde: any SDE, _ settings: [String: String]) throws -> any Sampler {
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [2])
        let entry = try #require(SamplerRegistry.entry(name))
        return entry.make(try entry.resolve(settings.mapValues { .text($0) }, for: space), space)
    }

    /// The scheme's exact answer as its steps shrink: the prior draw carried by the exact flow to ε, then the
    /// exact denoiser there (every one of these samplers ends with D at σ̃(ε)).
    static func exact(_ g: GaussianScore, _ sde: any SDE, rows: Int, seed: UInt64, epsilon: Double) -> Tensor {
        var streams = RowStreams(seed: seed, first: 0, count: rows)
        let prior = sde.priorSample([rows, 2], streams: &streams)
        let atEpsilon = g.flow(prior, from: sde.T, to: epsilon)
        let s = evaluateScore(g, atEpsilon, [Double](repeating: epsilon, count: rows), tape: Tape(recording: false))
        return tweedieDenoise(atEpsilon, score: s, t: epsilon, perturbation: sde)
    }

    static func error(_ name: String, _ sde: any SDE, steps: Int, _ extra: [String: String] = [:]) throws -> Double {
        let g = gaussian(sde)
        let s = try sampler(name, sde, extra.merging(["steps": String(steps), "eps_end": "0.001"]) { a, _ in a })
        let x = try s.sample(g, shape: [2], first: 0, count: 64, seed: 5, control: nil).x
        let ref = exact(g, sde, rows: 64, seed: 5, epsilon: 1e-3)
        var e = 0.0
        for i in 0..<x.count { e = max(e, Double(abs(x.scalars[i] - ref.scalars[i]))) }
        return e
    }

    @Test(arguments: ["ve", "vp"])
    func convergenceOrders(sde name: String) throws {
        let sde = Self.sdes[name]!
        // (sampler, settings, budgets whose steps double, the error ratio expected for each halving)
        let cases: [(String, [String: String], [Int], ClosedRange<Double>)] = [
            ("euler", [:], [16, 32, 64], 1.6...2.6),
            ("ddim", [:], [16, 32, 64], 1.6...2.6),
            ("heun", [:], [15, 31, 63], 3.2...5.5),
            ("dpm_solver", ["order": "2", "eta": "0"], [16, 32, 64], 3.2...5.5),
        ]
        // 3M's update (as DPM-Solver's code and k-diffusion write it) weighs the second difference by φ₃ of a
        // half-size difference, so on these schedules it converges at second order too, from far lower errors.
        let two = try [16, 32, 64].map { try Self.error("dpm_solver", sde, steps: $0, ["order": "2", "eta": "0"]) }
        let three = try [16, 32, 64].map { try Self.error("dpm_solver", sde, steps: $0, ["order": "3", "eta": "0"]) }
        #expect(zip(three, two).allSatisfy { $0 < $1 } && three[2] < three[0] / 3, "\(name): 3M \(three), 2M \(two)")
        for (sampler, extra, budgets, expected) in cases {
            let errors = try budgets.map { try Self.error(sampler, sde, steps: $0, extra) }
            for k in 1..<errors.count {
                let ratio = errors[k - 1] / errors[k]
                #expect(expected.contains(ratio), "\(name) \(sampler) \(extra): errors \(errors), ratio \(ratio)")
            }
        }
    }

    /// With budgets large enough that discretisation is negligible (the convergence test measures it), every
    /// fast sampler, deterministic or stochastic, reproduces the data distribution (t = 0: they end at σ = 0)
    /// within 5 standard errors of the sample moments. VE with σ_max = 50, so that its prior N(0, σ_max²) is p_T
    /// to within a tenth of the tolerance (as in SamplerMomentTests).
    @Test(arguments: ["ve", "vp", "subvp"])
    func moments(sde name: String) throws {
        let sde: any SDE = name == "ve" ? VESDE(sigmaMin: 0.01, sigmaMax: 50) : Self.sdes[name]!
        let g = Self.gaussian(sde)
        let cases: [(String, [String: String])] = [
            ("dpm_solver", ["order": "2", "eta": "0"]), ("dpm_solver", ["eta": "0"]), ("dpm_solver", ["order": "2", "eta": "1"]),
            ("dpm_solver", ["eta": "2"]), ("heun", [:]), ("euler", [:]), ("edm", [:]), ("ddim", [:]), ("ddim", ["eta": "1"]),
        ]
        for (sampler, extra) in cases {
            let s = try Self.sampler(sampler, sde, extra.merging(["steps": "400", "eps_end": "0.001"]) { a, _ in a })
            let out = try SamplingRun(sampler: s, count: 4000, seed: 21, chunkSize: 1000).run(g, shape: [2])
            expectMoments(out.x, mean: g.mean(at: 0), covariance: g.covariance(at: 0), "\(sampler) \(extra) \(name)")
        }
        // The budget is exact: Heun reports 2N − 1 evaluations for N steps, the others one per step.
        let g2 = Self.gaussian(sde)
        #expect(try Self.sampler("heun", sde, ["steps": "20"]).sample(g2, shape: [2], first: 0, count: 4, seed: 1, control: nil).nfe == 19)
        #expect(try Self.sampler("dpm_solver", sde, ["steps": "7"]).sample(g2, shape: [2], first: 0, count: 4, seed: 1, control: nil).nfe == 7)
        #expect(try Self.sampler("ddim", sde, ["steps": "5", "eta": "1"]).sample(g2, shape: [2], first: 0, count: 4, seed: 1, control: nil).nfe == 5)
    }

    /// The SDE solver (η > 0) at few steps is exact only in the limit: the multistep corrections take part of the
    /// noise injected one step earlier for the denoiser's change, which widens the distribution. With the
    /// exact score of a Gaussian and VE up to σ_max = 22 (MNIST's), the excess of the covariance's trace (about
    /// a tenth of it at 20 steps with η = 2, within noise with η = 1) must shrink at least at first order wherever
    /// it is measurable (by more than half for each fourfold budget; about 4× expected) and be gone within
    /// sampling noise at 1280 steps. 20 000 rows: the trace's standard error is √(2 tr C²/n) ≈ 0.0025.
    @Test(arguments: ["1", "2"])
    func stochasticSolverConvergesInDistribution(eta: String) throws {
        let sde = VESDE(sigmaMin: 0.01, sigmaMax: 22)
        let g = Self.gaussian(sde)
        let c = g.covariance(at: 0), trace = c[0] + c[3]
        let n = 20_000
        let se = (2 * (c[0] * c[0] + 2 * c[1] * c[1] + c[3] * c[3]) / Double(n)).squareRoot()
        func excess(_ steps: Int) throws -> Double {
            let s = try Self.sampler("dpm_solver", sde, ["steps": String(steps), "eta": eta, "eps_end": "0.001"])
            let x = try SamplingRun(sampler: s, count: n, seed: 8, chunkSize: 5000, threads: 2).run(g, shape: [2]).x
            var m = [0.0, 0.0], t = 0.0
            for i in 0..<n { for a in 0..<2 { m[a] += Double(x.scalars[2 * i + a]) / Double(n) } }
            for i in 0..<n { for a in 0..<2 { t += pow(Double(x.scalars[2 * i + a]) - m[a], 2) / Double(n - 1) } }
            return t - trace
        }
        let errors = try [20, 80, 320, 1280].map(excess)
        for k in 1..<errors.count where abs(errors[k - 1]) > 10 * se {
            #expect(abs(errors[k]) < abs(errors[k - 1]) / 2, "η \(eta): trace excess \(errors) (se \(se))")
        }
        #expect(abs(errors[3]) <= 5 * se, "η \(eta): trace excess \(errors) (se \(se))")
    }
}
