import Foundation
import ScoreEngine
import Testing

/// The marginals of each SDE against its drift and diffusion: for dx = a(t)x dt + g(t) dw the mean coefficient
/// solves m′ = a·m and the variance solves (σ²)′ = 2a·σ² + g², both from 0 at t = 0.
@Suite struct SDETests {
    static let sdes: [(String, any SDE)] = [
        ("ve", VESDE(sigmaMin: 0.01, sigmaMax: 50)), ("vp", VPSDE()), ("subvp", SubVPSDE()),
    ]

    @Test(arguments: sdes.map(\.0))
    func marginalsSolveTheMomentEquations(name: String) {
        let sde = Self.sdes.first { $0.0 == name }!.1
        #expect(abs(sde.meanCoefficient(0) - 1) < 1e-12)
        #expect(sde.std(0) < 1e-12)
        for t in stride(from: 0.05, through: 0.95, by: 0.1) {
            let h = 1e-5
            let dm = (sde.meanCoefficient(t + h) - sde.meanCoefficient(t - h)) / (2 * h)
            #expect(abs(dm - sde.driftCoefficient(t) * sde.meanCoefficient(t)) < 1e-6 * max(1, abs(dm)), "m′ at \(t)")
            let v = { (s: Double) in sde.std(s) * sde.std(s) }
            let dv = (v(t + h) - v(t - h)) / (2 * h)
            let rhs = 2 * sde.driftCoefficient(t) * v(t) + sde.diffusion(t) * sde.diffusion(t)
            #expect(abs(dv - rhs) < 1e-5 * max(1, abs(rhs)), "(σ²)′ at \(t): \(dv) vs \(rhs)")
        }
        #expect(abs(sde.priorStd - sde.std(sde.T)) < 0.01 * sde.priorStd)
    }

    /// The transition over [s, t] composes with the marginal at s into the marginal at t.
    @Test(arguments: sdes.map(\.0))
    func transitionComposesMarginals(name: String) {
        let sde = Self.sdes.first { $0.0 == name }!.1
        let (alpha, G) = sde.transition(from: 0.3, to: 0.35)
        #expect(abs(alpha * sde.meanCoefficient(0.3) - sde.meanCoefficient(0.35)) < 1e-12)
        let v = alpha * alpha * sde.std(0.3) * sde.std(0.3) + G * G
        #expect(abs(v - sde.std(0.35) * sde.std(0.35)) < 1e-10)
    }

    @Test func noiseLadderIsGeometric() {
        let l = NoiseLadder(sigmaMin: 0.01, sigmaMax: 1, levels: 3)
        let s = l.sigmas
        #expect(abs(s[0] - 1) < 1e-12 && abs(s[1] - 0.1) < 1e-12 && abs(s[2] - 0.01) < 1e-12)
    }

    /// The analytic Gaussian score is the gradient of its log-density (central differences).
    @Test func gaussianScoreIsGradientOfLogDensity() {
        let a = 0.4
        let g = GaussianScore(mean: [1, -0.5], rotation: [cos(a), -sin(a), sin(a), cos(a)], variances: [0.25, 0.04],
                              perturbation: VPSDE())
        let x = Tensor(rows: [[0.3, 0.2], [1.5, -1.0]])
        for t in [0.0, 0.2, 0.7] {
            let tape = Tape(recording: false)
            let s = g.score(tape.constant(x), t: [t, t]).value
            for i in 0..<x.count {
                var xp = x, xm = x
                xp.scalars[i] += 1e-3
                xm.scalars[i] -= 1e-3
                let r = i / 2
                let fd = (g.logDensity(xp, t: t)[r] - g.logDensity(xm, t: t)[r]) / 2e-3
                #expect(abs(fd - Double(s.scalars[i])) < 1e-3 * max(1, abs(fd)), "t \(t) entry \(i)")
            }
        }
    }
}
