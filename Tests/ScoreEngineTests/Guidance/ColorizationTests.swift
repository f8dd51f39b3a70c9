import Foundation
import ScoreEngine
import Testing

/// Colorization (Song et al. 2021, App. I.3): the grey level, the first coordinate of the orthogonal
/// decoupling, is held while the sampler fills the other two; the colour samples keep the input's grey level
/// exactly and differ between seeds. Driven by the exact score of Gaussian RGB data, whose channels correlate.
@Suite struct ColorizationTests {
    @Test func decouplingIsOrthogonalWithTheGreyLevelFirst() {
        let a = Inpainting.decoupledColour
        for i in 0..<3 { for j in 0..<3 {
            let dot = (0..<3).reduce(Float(0)) { $0 + a[i * 3 + $1] * a[j * 3 + $1] }
            #expect(abs(dot - (i == j ? 1 : 0)) < 1e-6)
        } }
        #expect(a[0] == a[1] && a[1] == a[2])
    }

    @Test(arguments: ["pc", "ode", "dpm_solver", "ddim", "edm"])
    func colourSamplesKeepTheGreyLevel(sampler name: String) throws {
        // 3 × 4 × 4 images: Gaussian data whose three channels of a pixel are correlated.
        let d = 48, sde = VESDE(sigmaMin: 0.01, sigmaMax: 10)
        var mean = [Double](repeating: 0.5, count: d)
        for p in 0..<16 { mean[p] = 0.8; mean[32 + p] = 0.2 }
        let g = GaussianScore(mean: mean, variances: [Double](repeating: 0.02, count: d), perturbation: sde)
        struct Shaped: ScoreFunction {
            let g: GaussianScore
            func score(_ x: Var, t: [Double]) -> Var { g.score(x.reshaped([x.shape[0], 48]), t: t).reshaped(x.shape) }
        }
        var rng = Philox(seed: 1)
        let grey = Tensor(shape: [1, 4, 4], scalars: (0..<16).map { _ in rng.uniform() })
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [3, 4, 4])
        let entry = try #require(SamplerRegistry.entry(name))
        let settings: [String: RawValue] = name == "pc" ? ["steps": .text("200")] : [:]
        let sampler = try #require(entry.make(try entry.resolve(settings, for: space), space) as? any InpaintingSampler)
            .inpainting(Inpainting.colorization(grey: grey))
        let run = { (seed: UInt64) in try SamplingRun(sampler: sampler, count: 4, seed: seed, chunkSize: 2, threads: 2).run(Shaped(g: g), shape: [3, 4, 4]).x }
        let a = try run(1), b = try run(2)
        for x in [a, b] {
            for k in 0..<4 { for p in 0..<16 {
                let level = (0..<3).reduce(Float(0)) { $0 + x.scalars[(k * 3 + $1) * 16 + p] } / 3
                #expect(abs(level - grey.scalars[p]) < 1e-5, "image \(k) pixel \(p): grey \(level) vs \(grey.scalars[p])")
            } }
        }
        let differ = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(differ > 0.05, "colours vary between seeds: \(differ)")
    }
}
