import Foundation
import ScoreEngine
import Testing

/// Class-conditional sampling where the answer is known: for a mixture of Gaussians the noise-conditional
/// classifier p_t(y | x) and the class-conditional score are exact, so a guided sampler (scale 1) must draw
/// each class's Gaussian, with moments checked to tolerances from the sample size. Then a classifier trained
/// by the engine: its gradient against finite differences, its accuracy on noisy held-out data, its checkpoint.
@Suite struct GuidanceTests {
    static let mixtureMeans: [[Double]] = [[-2, 0], [2, 1]]
    static func mixture(_ sde: any SDE) -> GaussianMixture {
        GaussianMixture(means: mixtureMeans, weights: [0.7, 0.3], variance: 0.25, perturbation: sde)
    }

    @Test func classifierGradientIsTheDifferenceOfScores() {
        let sde = VESDE(sigmaMin: 0.01, sigmaMax: 10)
        let g = Self.mixture(sde)
        var rng = Philox(seed: 3)
        let x = rng.gaussian([6, 2]).scaled(by: 2)
        let t = [0.01, 0.1, 0.3, 0.5, 0.8, 1.0]
        let tape = Tape(recording: false)
        for y in 0..<2 {
            let grad = g.logProbabilityGradient(x, t: t, labels: [Int](repeating: y, count: 6))
            // ∇ log p_t(y | x) = ∇ log p_t(x | y) − ∇ log p_t(x)
            let expected = evaluateScore(g.component(y), x, t, tape: tape) - evaluateScore(g, x, t, tape: tape)
            for i in 0..<grad.count {
                #expect(abs(grad.scalars[i] - expected.scalars[i]) <= 1e-4 * max(1, abs(expected.scalars[i])), "label \(y) entry \(i)")
            }
        }
    }

    /// Rows 0..<n labelled 0 and n..<2n labelled 1 in one run, split into chunks over two threads.
    @Test(arguments: [("dpm_solver", "ve"), ("pc", "ve"), ("ode", "ve"), ("euler", "vp"), ("ddim", "vp"), ("em", "subvp")])
    func guidedSamplesDrawEachClass(sampler name: String, sde sdeName: String) throws {
        // VE's prior N(0, σ_max²I) ignores the class mean μ_y at T; the deterministic flow carries that offset
        // down to |μ_y|·s/σ_max at the data (0.1 with σ_max = 10), so σ_max is large enough here for it to vanish.
        let sdes: [String: any SDE] = ["ve": VESDE(sigmaMin: 0.01, sigmaMax: 60), "vp": VPSDE(), "subvp": SubVPSDE()]
        let sde = sdes[sdeName]!
        let g = Self.mixture(sde)
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [2])
        let entry = try #require(SamplerRegistry.entry(name))
        let settings: [String: RawValue] = name == "euler" ? ["steps": .text("100")] : [:]
        let sampler = entry.make(try entry.resolve(settings, for: space), space)
        let n = 2000
        let guided = GuidedScore(base: g, classifier: g, labels: [Int](repeating: 0, count: n) + [Int](repeating: 1, count: n), scale: 1)
        let x = try SamplingRun(sampler: sampler, count: 2 * n, seed: 11, chunkSize: 700, threads: 2).run(guided, shape: [2]).x
        // A few hundredths for the discretisation (the stochastic samplers' last step leaves σ(ε) of noise).
        for y in 0..<2 {
            expectMoments(x.rows((y * n)..<((y + 1) * n)), mean: Self.mixtureMeans[y], covariance: [0.25, 0, 0, 0.25],
                          bias: 0.03, "\(name) on \(sdeName), class \(y)")
        }
    }

    @Test func guidanceScaleZeroIsTheUnconditionalScore() {
        let g = Self.mixture(VPSDE())
        var rng = Philox(seed: 4)
        let x = rng.gaussian([5, 2])
        let t = [0.1, 0.2, 0.3, 0.4, 0.5], tape = Tape(recording: false)
        let a = evaluateScore(GuidedScore(base: g, classifier: g, labels: [1, 1, 0, 1, 0], scale: 0), x, t, tape: tape)
        #expect(a.scalars == evaluateScore(g, x, t, tape: tape).scalars)
    }

    static func classifierRecipe() -> TrainingRecipe {
        var r = TrainingRecipe(kind: .points)
        r.dataset = "8gaussians"
        r.setObjective("classifier", ["sde": "vp"])
        r.steps = 600
        r.batchSize = 256
        r.hidden = [64, 64]
        r.learningRate = 3e-3
        return r
    }

    @Test func trainedClassifierGradientMatchesFiniteDifferences() throws {
        let r = Self.classifierRecipe()
        var rng = Philox(seed: 1)
        let (data, labels) = Toy2D.eightGaussians.sampleLabelled(512, rng: &rng)
        let model = try Trainer(recipe: r, data: data, labels: labels).model
        #expect(model.isClassifier && model.classes == 8)
        let x = rng.gaussian([4, 2]), t = [0.05, 0.2, 0.5, 0.9], y = [0, 3, 5, 7]
        let grad = model.logProbabilityGradient(x, t: t, labels: y)
        func logp(_ x: Tensor) -> [Double] {
            let p = model.probabilities(x, t: t)
            return (0..<4).map { Foundation.log(Double(p.scalars[$0 * 8 + y[$0]])) }
        }
        let h: Float = 1e-2
        for j in 0..<2 {
            var plus = x, minus = x
            for i in 0..<4 { plus.scalars[i * 2 + j] += h; minus.scalars[i * 2 + j] -= h }
            let (a, b) = (logp(plus), logp(minus))
            for i in 0..<4 {
                let fd = (a[i] - b[i]) / Double(2 * h)
                #expect(abs(Double(grad.scalars[i * 2 + j]) - fd) <= 2e-3 + 1e-2 * abs(fd), "row \(i) coordinate \(j): \(grad.scalars[i * 2 + j]) vs \(fd)")
            }
        }
    }

    @Test func trainedClassifierSeparatesNoisyClasses() throws {
        let r = Self.classifierRecipe()
        var rng = Philox(seed: 0).derived(RandomPurpose.trainingData)
        let (data, labels) = Toy2D.eightGaussians.sampleLabelled(r.datasetSize, rng: &rng)
        let trainer = try Trainer(recipe: r, data: data, labels: labels)
        try trainer.run()
        let model = trainer.samplingModel
        var fresh = Philox(seed: 99)
        let (test, testLabels) = Toy2D.eightGaussians.sampleLabelled(4000, rng: &fresh)
        let acc = try NoiseConditionalClassification.accuracy(model, sde: model.schedule.sde!, data: test, labels: testLabels,
                                                              times: [0.01, 1], seed: 5)
        // Neighbouring components are 6 standard deviations apart: Bayes accuracy about 0.997 at t → 0; the
        // standard error of an accuracy near 0.99 over 4000 points is 0.0016. At T the data are gone (VP's
        // prior), and the best guess is a class's share, 1/8 (se 0.005).
        #expect(acc[0].accuracy >= 0.97, "accuracy at t = 0.01: \(acc[0].accuracy)")
        #expect(acc[1].accuracy <= 0.2, "accuracy at T: \(acc[1].accuracy)")
        // The checkpoint keeps the architecture and the logits.
        let (loaded, _) = try ScoreModel.load(checkpoint: model.checkpoint())
        #expect(loaded.architecture == model.architecture && loaded.isClassifier)
        let x = test.rows(0..<8), t = [Double](repeating: 0.1, count: 8)
        #expect(loaded.probabilities(x, t: t).scalars == model.probabilities(x, t: t).scalars)
    }

    @Test func classifierObjectiveNeedsLabels() throws {
        var rng = Philox(seed: 1)
        let data = Toy2D.swissRoll.sample(100, rng: &rng)
        #expect(throws: InvalidParameter.self) { try Trainer(recipe: Self.classifierRecipe(), data: data) }
    }
}
