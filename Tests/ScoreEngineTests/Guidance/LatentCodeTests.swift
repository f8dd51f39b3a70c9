import Foundation
import ScoreEngine
import Testing

/// Latent codes of the probability-flow ODE, with the exact score of Gaussian data (whose flow map is known in
/// closed form): encoding reaches the exact x(T), decoding the encoding returns the input within the solver's
/// tolerance, and spherical interpolation keeps the latents' radius.
@Suite struct LatentCodeTests {
    @Test(arguments: ["ve", "vp"])
    func encodeThenDecodeReturnsTheInput(sde name: String) throws {
        let sde: any SDE = name == "ve" ? VESDE(sigmaMin: 0.01, sigmaMax: 5) : VPSDE()
        let g = GaussianScore(mean: [1, -0.5], rotation: [cos(0.4), -sin(0.4), sin(0.4), cos(0.4)], variances: [0.25, 0.04], perturbation: sde)
        var rng = Philox(seed: 8)
        let x = rng.gaussian([16, 2])
        let tol = 1e-7
        let encoded = try LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: tol, atol: tol))).logLikelihood(g, x)
        let exact = g.flow(x, from: LikelihoodEstimator.defaultEpsilon, to: sde.T)
        // What the ODE computes, in closed form: the prior's density at the exact latent and the flow's log-Jacobian,
        // ½ Σₖ log(v_T,k / v_ε,k) with v_t,k = m(t)²λₖ + σ(t)² (the prior differs from the exact p_T for VE).
        let eps = LikelihoodEstimator.defaultEpsilon
        let logJacobian = [0.25, 0.04].reduce(0.0) { acc, l in
            let vT = pow(sde.meanCoefficient(sde.T), 2) * l + pow(sde.std(sde.T), 2), vE = pow(sde.meanCoefficient(eps), 2) * l + pow(sde.std(eps), 2)
            return acc + 0.5 * Foundation.log(vT / vE)
        }
        let logp = sde.priorLogDensity(exact).map { $0 + logJacobian }
        for i in 0..<x.count { #expect(abs(encoded.latent.scalars[i] - exact.scalars[i]) <= 1e-3 * max(1, abs(exact.scalars[i])), "latent \(i)") }
        for i in 0..<16 { #expect(abs(encoded.logLikelihood[i] - logp[i]) <= 2e-3, "log p \(i): \(encoded.logLikelihood[i]) vs \(logp[i])") }
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [2])
        let entry = try #require(SamplerRegistry.entry("ode"))
        let values = try entry.resolve(["rtol": .text("1e-7"), "atol": .text("1e-7"), "eps_end": .text(String(LikelihoodEstimator.defaultEpsilon))], for: space)
        let decoder = try #require(entry.make(values, space) as? ProbabilityFlowODESampler).decoding(encoded.latent)
        let back = try SamplingRun(sampler: decoder, count: 16, seed: 0, chunkSize: 5, threads: 2).run(g, shape: [2]).x
        for i in 0..<x.count { #expect(abs(back.scalars[i] - x.scalars[i]) <= 1e-4, "decoded \(i): \(back.scalars[i]) vs \(x.scalars[i])") }
    }

    @Test func slerpKeepsTheRadiusAndTheEnds() {
        let a: [Float] = [3, 0, 4], b: [Float] = [0, 5, 0]
        let path = LatentCodes.slerp(a, b, count: 9)
        #expect(Array(path.scalars[0..<3]) == a)
        for j in 0..<3 { #expect(abs(path.scalars[24 + j] - b[j]) < 1e-5) }
        for k in 0..<9 {
            let r = (0..<3).reduce(Float(0)) { $0 + path.scalars[k * 3 + $1] * path.scalars[k * 3 + $1] }.squareRoot()
            #expect(abs(r - 5) < 1e-4, "radius at \(k): \(r)")
        }
        // Parallel latents: a straight line.
        let line = LatentCodes.slerp([1, 1], [2, 2], count: 3)
        #expect(line.scalars == [1, 1, 1.5, 1.5, 2, 2])
    }
}
