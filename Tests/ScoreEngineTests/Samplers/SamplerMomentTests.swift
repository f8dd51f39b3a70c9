import Foundation
import Synchronization
import ScoreEngine
import Testing

/// Every sampler, driven by the exact score of Gaussian data, reproduces the distribution it targets (the
/// data perturbed to the sampler's end time ε) within a tolerance set by the sample size.
@Suite struct SamplerMomentTests {
    static let n = 4000
    static let rotation = [cos(0.4), -sin(0.4), sin(0.4), cos(0.4)]
    static func gaussian(_ p: (any Perturbation)?) -> GaussianScore {
        GaussianScore(mean: [1, -0.5], rotation: rotation, variances: [0.25, 0.04], perturbation: p)
    }
    /// σ_max ≫ the data's spread, so that the VE prior N(0, σ_max²) matches p_T (the mean 1 moves
    /// the ODE's result by |μ|·σ_data/σ_max = 0.01 at σ_max = 50, a quarter of the tolerance).
    static let sdes: [String: any SDE] = ["ve": VESDE(sigmaMin: 0.01, sigmaMax: 50), "vp": VPSDE(), "subvp": SubVPSDE()]

    func check(_ sampler: any Sampler, _ sde: any SDE, end: Double, seed: UInt64 = 11, _ what: String) throws {
        let g = Self.gaussian(sde)
        let out = try SamplingRun(sampler: sampler, count: Self.n, seed: seed, chunkSize: 1000).run(g, shape: [2])
        expectMoments(out.x, mean: g.mean(at: end), covariance: g.covariance(at: end), what)
    }

    @Test(arguments: ["ve", "vp", "subvp"])
    func eulerMaruyama(sde name: String) throws {
        let sde = Self.sdes[name]!
        try check(PredictorCorrectorSampler(sde: sde, steps: 1000), sde, end: 1e-3, "EM \(name)")
    }

    @Test(arguments: ["ve", "vp", "subvp"])
    func reverseDiffusion(sde name: String) throws {
        let sde = Self.sdes[name]!
        try check(PredictorCorrectorSampler(sde: sde, predictor: ReverseDiffusionPredictor(), steps: 1000), sde,
                  end: 1e-3, "reverse diffusion \(name)")
    }

    @Test(arguments: ["ve", "vp", "subvp"])
    func predictorCorrector(sde name: String) throws {
        let sde = Self.sdes[name]!
        let pc = PredictorCorrectorSampler(sde: sde, predictor: ReverseDiffusionPredictor(),
                                           corrector: LangevinCorrector(snr: 0.16, steps: 1), steps: 500)
        try check(pc, sde, end: 1e-3, "PC \(name)")
    }

    @Test(arguments: ["ve", "vp", "subvp"])
    func probabilityFlowAdaptive(sde name: String) throws {
        let sde = Self.sdes[name]!
        try check(ProbabilityFlowODESampler(sde: sde), sde, end: 1e-3, "ODE rk45 \(name)")
    }

    @Test(arguments: ["ve", "vp"])
    func probabilityFlowFixedStep(sde name: String) throws {
        let sde = Self.sdes[name]!
        let solver = ODESolver(tableau: .rk4, method: .fixed(steps: 200))
        try check(ProbabilityFlowODESampler(sde: sde, solver: solver), sde, end: 1e-3, "ODE rk4 \(name)")
    }

    /// Langevin MCMC on the unperturbed density. The unadjusted chain's stationary variance along an
    /// eigenvector is λ/(1 − ε/(2λ)): 1.3% above λ = 0.04 at ε = 1e-3, under a tenth of the tolerance.
    @Test func langevin() throws {
        let g = Self.gaussian(nil)
        let out = try SamplingRun(sampler: LangevinDynamics(stepSize: 1e-3, steps: 3000), count: Self.n, seed: 5)
            .run(g, shape: [2])
        expectMoments(out.x, mean: g.mean(at: 0), covariance: g.covariance(at: 0), "Langevin")
    }

    @Test func annealedLangevin() throws {
        let ladder = NoiseLadder(sigmaMin: 0.01, sigmaMax: 5, levels: 10)
        let g = Self.gaussian(ladder)
        let sampler = AnnealedLangevinDynamics(ladder: ladder, stepsPerLevel: 100, epsilon: 2e-5, denoise: false)
        let out = try SamplingRun(sampler: sampler, count: Self.n, seed: 9).run(g, shape: [2])
        expectMoments(out.x, mean: g.mean(at: 0), covariance: g.covariance(at: 0), "annealed Langevin")
    }

    /// Tweedie's step maps x_t to E[x₀ | x_t]; for Gaussian data that is linear in x_t, and its mean is μ.
    @Test func denoisedSamplesHaveTheDataMean() throws {
        let sde = VESDE(sigmaMin: 0.01, sigmaMax: 5)
        let g = Self.gaussian(sde)
        let sampler = PredictorCorrectorSampler(sde: sde, steps: 500, epsilon: 0.05, denoise: true)
        let out = try SamplingRun(sampler: sampler, count: Self.n, seed: 3).run(g, shape: [2])
        // Cov(E[x₀|x_t]) = Σ (Σ + σ²I)⁻¹ Σ: per eigen-direction λ²/(λ + σ²).
        let s2 = sde.std(0.05) * sde.std(0.05)
        let shrunk = GaussianScore(mean: [1, -0.5], rotation: Self.rotation,
                                   variances: [0.25, 0.04].map { $0 * $0 / ($0 + s2) }, perturbation: nil)
        expectMoments(out.x, mean: [1, -0.5], covariance: shrunk.covariance(at: 0), "denoised")
        #expect(out.nfe == 501)
    }

    /// The probability-flow ODE publishes previews of its state, fixed steps every k of them, adaptive steps every k
    /// iterations with `total` estimated until the last, which is the state it ends with (here, without a
    /// denoising step, the samples returned).
    @Test(arguments: [ODESolver(), ODESolver(tableau: .heun, method: .fixed(steps: 40))])
    func odePreviews(solver: ODESolver) throws {
        let sde = VPSDE()
        final class Frames: Sendable { let list = Mutex<[SamplingPreview]>([]) }
        let frames = Frames()
        let control = SamplingControl(totalRows: 20, previewEvery: 5, onPreview: { p in frames.list.withLock { $0.append(p) } })
        let out = try SamplingRun(sampler: ProbabilityFlowODESampler(sde: sde, solver: solver), count: 20, seed: 4, chunkSize: 20, threads: 1)
            .run(Self.gaussian(sde), shape: [2], control: control)
        let seen = frames.list.withLock { $0 }
        let last = try #require(seen.last)
        #expect(seen.count >= 3 && seen.dropLast().allSatisfy { $0.step % 5 == 0 && $0.step < $0.total })
        #expect(last.step == last.total && last.x.maxAbsDifference(out.x) == 0 && last.denoised == nil)
        if case .fixed(let n) = solver.method { #expect(last.total == n && seen.count == n / 5) }
    }

    /// Sample i depends only on (seed, i): drawing 7 rows in one chunk or 3 + 4 gives the same rows, and the
    /// first rows of a larger request are the same.
    @Test func samplesDependOnlyOnSeedAndIndex() throws {
        let sde = VPSDE()
        let g = Self.gaussian(sde)
        for sampler in [PredictorCorrectorSampler(sde: sde, steps: 50) as any Sampler, ProbabilityFlowODESampler(sde: sde)] {
            let a = try SamplingRun(sampler: sampler, count: 7, seed: 2, chunkSize: 7, threads: 1).run(g, shape: [2]).x
            let b = try SamplingRun(sampler: sampler, count: 7, seed: 2, chunkSize: 3, threads: 2).run(g, shape: [2]).x
            let c = try SamplingRun(sampler: sampler, count: 20, seed: 2, chunkSize: 20, threads: 1).run(g, shape: [2]).x
            #expect(a.maxAbsDifference(b) < 1e-5)
            #expect(a.maxAbsDifference(c.rows(0..<7)) < 1e-5)
            let other = try SamplingRun(sampler: sampler, count: 7, seed: 3).run(g, shape: [2]).x
            #expect(a.maxAbsDifference(other) > 0.01)
        }
    }
}
