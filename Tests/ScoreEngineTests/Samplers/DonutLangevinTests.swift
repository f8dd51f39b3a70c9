import Foundation
import ScoreEngine
import Testing

/// Langevin MCMC on the donut given only by its log-density (the score comes from differentiating it):
/// the chains' radii have the target's mean and spread.
@Suite struct DonutLangevinTests {
    @Test func langevinOnTheDonut() throws {
        let score = LogDensityScore { Toy2D.donutLogDensity($0) }
        let sampler = LangevinDynamics(stepSize: 1e-3, steps: 1000, start: .uniform(low: -3, high: 3))
        let x = try SamplingRun(sampler: sampler, count: 2000, seed: 1).run(score, shape: [2]).x
        let r = (0..<2000).map { Double(hypot(x.scalars[2 * $0], x.scalars[2 * $0 + 1])) }
        let mean = r.reduce(0, +) / 2000
        let sd = (r.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1999).squareRoot()
        // Target: radius ≈ N(2.6, 0.1285²) (tilted by r); ULA at ε = 1e-3 widens s² = 0.0165 by ε/2 relative to s²... ≈ 3%.
        #expect(abs(mean - 2.606) < 5 * 0.13 / 2000.squareRoot() + 0.005, "mean radius \(mean)")
        #expect(abs(sd - 0.1285) < 0.015, "radius spread \(sd)")
    }
}
