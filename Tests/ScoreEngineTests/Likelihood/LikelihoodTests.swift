import Foundation
import ScoreEngine
import Testing

/// The probability-flow log-likelihood with the exact score of Gaussian data against the Gaussian's own
/// log-density at the integration's start ε.
@Suite struct LikelihoodTests {
    static let rotation = [cos(0.4), -sin(0.4), sin(0.4), cos(0.4)]
    static let sdes: [String: any SDE] = ["ve": VESDE(sigmaMin: 0.01, sigmaMax: 50), "vp": VPSDE(), "subvp": SubVPSDE()]
    static let x = Tensor(rows: [[1, -0.5], [0.2, 0.4], [1.9, -1.1], [0.7, -0.9], [3, 1]])

    @Test(arguments: ["ve", "vp", "subvp"])
    func exactDivergenceMatchesClosedForm(sde name: String) throws {
        let sde = Self.sdes[name]!
        let g = GaussianScore(mean: [1, -0.5], rotation: Self.rotation, variances: [0.25, 0.04], perturbation: sde)
        let est = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: 1e-6, atol: 1e-6)))
        let r = try est.logLikelihood(g, Self.x)
        // Along the exact flow ∫ ∇·f̃ dt = log p_ε(x) − log p_T(z); the estimator adds the prior's log-density
        // at z instead of p_T's, so its exact answer is log p_ε(x) + log prior(z) − log p_T(z). (The prior
        // differs from p_T by the data's mean and covariance: far out, where VE sends z, that is 0.1 nats.)
        let z = g.flow(Self.x, from: est.epsilon, to: sde.T)
        #expect(r.latent.maxAbsDifference(z) < 1e-3 * max(1, z.scalars.map(abs).max()!))
        let prior = sde.priorLogDensity(z), pT = g.logDensity(z, t: sde.T), p0 = g.logDensity(Self.x, t: est.epsilon)
        for i in 0..<p0.count {
            let ref = p0[i] + prior[i] - pT[i]
            #expect(abs(r.logLikelihood[i] - ref) < 1e-3, "\(name) row \(i): \(r.logLikelihood[i]) vs \(ref)")
        }
        #expect(r.nfe > 10)
    }

    /// Centred data under VP, where the prior N(0, I) is p_T up to m(T)² ≈ 4e-5: the estimate is the
    /// Gaussian's log-density itself (for points within a few standard deviations, where the mismatch
    /// ½|z|²·m(T)²(1 − λ) stays below 3e-4 nats).
    @Test func matchesTheExactDensityWhenThePriorIsExact() throws {
        let sde = VPSDE()
        let g = GaussianScore(mean: [0, 0], rotation: Self.rotation, variances: [0.25, 0.04], perturbation: sde)
        let est = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: 1e-6, atol: 1e-6)))
        let x = Tensor(rows: [[0, 0], [0.5, 0.1], [-0.8, -0.2], [0.3, -0.4]])
        let r = try est.logLikelihood(g, x)
        let ref = g.logDensity(x, t: est.epsilon)
        for i in 0..<ref.count {
            #expect(abs(r.logLikelihood[i] - ref[i]) < 1e-3, "row \(i): \(r.logLikelihood[i]) vs \(ref[i])")
        }
    }

    /// Hutchinson's estimate is unbiased: its mean over 400 probes (each row a copy of one point with its
    /// own probe) is within 5 standard errors of the exact value.
    @Test(arguments: [Probe.rademacher, .gaussian])
    func hutchinsonIsUnbiased(probe: Probe) throws {
        let sde = VPSDE()
        let g = GaussianScore(mean: [1, -0.5], rotation: Self.rotation, variances: [0.25, 0.04], perturbation: sde)
        let copies = Tensor(shape: [400, 2], scalars: Array(repeating: [Float(0.2), 0.4], count: 400).flatMap { $0 })
        let est = LikelihoodEstimator(sde: sde, divergence: .hutchinson(probe))
        let r = try est.logLikelihood(g, copies, seed: 4)
        let mean = r.logLikelihood.reduce(0, +) / 400
        let sd = (r.logLikelihood.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 399).squareRoot()
        let z = g.flow(copies.rows(0..<1), from: est.epsilon, to: sde.T)
        let ref = g.logDensity(copies.rows(0..<1), t: est.epsilon)[0] + sde.priorLogDensity(z)[0] - g.logDensity(z, t: sde.T)[0]
        #expect(sd > 0, "the estimate should vary with the probe")
        #expect(abs(mean - ref) < 5 * sd / 20 + 1e-3, "\(probe): mean \(mean) ± \(sd / 20) vs \(ref)")
    }

    @Test func bitsPerDimension() {
        let r = LikelihoodEstimator.Result(logLikelihood: [-2 * log(2.0)], latent: .zeros([1, 2]), nfe: 0)
        #expect(abs(r.bitsPerDimension(dimension: 2)[0] - 1) < 1e-12)
        #expect(abs(r.bitsPerDimension(dimension: 2, offset: 8)[0] - 9) < 1e-12)
    }
}

/// Bits/dim of dequantised 8-bit "images" under an analytic Gaussian model: the probability-flow estimate
/// (exact divergence, and Hutchinson's on average) against the closed form −log₂ p_ε(x)/D + 8, with the
/// prior-mismatch correction of `exactDivergenceMatchesClosedForm`.
@Suite struct DequantizedBitsPerDimensionTests {
    @Test func gaussianImagesMatchTheClosedForm() throws {
        let d = 16, n = 24
        let sde = VESDE(sigmaMin: 0.01, sigmaMax: 50)
        let g = GaussianScore(mean: [Double](repeating: 0.5, count: d), variances: [Double](repeating: 0.04, count: d), perturbation: sde)
        var rng = Philox(seed: 5)
        // Pixels k/255 drawn around the mean, then dequantised to (k + u)/256.
        let pixels = Tensor(shape: [n, d], scalars: (0..<(n * d)).map { _ in ((0.5 + 0.2 * rng.gaussian()) * 255).rounded().clamped(0, 255) / 255 })
        let x = Dequantization.apply(pixels, seed: 9)
        #expect(x.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
        for i in 0..<(n * d) {  // each value stays in its pixel's bin
            #expect(Int((x.scalars[i] * 256).rounded(.down)) == Int((pixels.scalars[i] * 255).rounded()))
        }
        let est = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: 1e-6, atol: 1e-6)))
        let r = try est.logLikelihood(g, x)
        let z = g.flow(x, from: est.epsilon, to: sde.T)
        let prior = sde.priorLogDensity(z), pT = g.logDensity(z, t: sde.T), p0 = g.logDensity(x, t: est.epsilon)
        let bpd = r.bitsPerDimension(dimension: d, offset: Dequantization.offsetBits)
        var hutchinsonMean = 0.0, reference = 0.0
        let hutch = LikelihoodEstimator(sde: sde, solver: est.solver, divergence: .hutchinson(.rademacher))
        let rh = try hutch.logLikelihood(g, x).bitsPerDimension(dimension: d, offset: Dequantization.offsetBits)
        for i in 0..<n {
            let ref = -(p0[i] + prior[i] - pT[i]) / (Double(d) * log(2.0)) + 8
            #expect(abs(bpd[i] - ref) < 1e-3 / (Double(d) * log(2.0)) + 1e-9, "row \(i): \(bpd[i]) vs \(ref)")
            hutchinsonMean += rh[i] / Double(n)
            reference += ref / Double(n)
        }
        // Hutchinson's estimate is unbiased: its mean over rows within 5 standard errors of the reference.
        let sd = (rh.enumerated().map { i, v in let e = v - (-(p0[i] + prior[i] - pT[i]) / (Double(d) * log(2.0)) + 8); return e * e }
                    .reduce(0, +) / Double(n)).squareRoot()
        #expect(abs(hutchinsonMean - reference) < 5 * sd / Double(n).squareRoot() + 1e-4, "\(hutchinsonMean) vs \(reference) (sd \(sd))")
    }
}

private extension Float {
    func clamped(_ lo: Float, _ hi: Float) -> Float { Swift.min(Swift.max(self, lo), hi) }
}
