import Foundation
import ScoreEngine
let rot = [cos(0.4), -sin(0.4), sin(0.4), cos(0.4)]
let x = Tensor(rows: [[0.2, 0.4]])
let sde = VESDE(sigmaMin: 0.01, sigmaMax: 50)
let g = GaussianScore(mean: [1, -0.5], rotation: rot, variances: [0.25, 0.04], perturbation: sde)
let est = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: 1e-8, atol: 1e-8)))
let r = try! est.logLikelihood(g, x)
print("latent", r.latent)
// analytic: eigen coords c_k = R[:,k]·(x − μ); scaled by sqrt(v_T/v_eps)
let vT = [0.25, 0.04].map { $0 + sde.std(1) * sde.std(1) }, ve = [0.25, 0.04].map { $0 + sde.std(1e-5) * sde.std(1e-5) }
var z = [1.0, -0.5]
for k in 0..<2 {
  let c = (0..<2).reduce(0.0) { $0 + rot[$1 * 2 + k] * (Double(x.scalars[$1]) - [1.0, -0.5][$1]) }
  for i in 0..<2 { z[i] += rot[i * 2 + k] * c * (vT[k] / ve[k]).squareRoot() }
}
print("analytic latent", z)
let tape = Tape()
let xv = tape.variable(x)
let s = g.score(xv, t: [0.5])
print("score", s.value)
for j in 0..<2 { var e = Tensor.zeros([1,2]); e.scalars[j] = 1; print("row", j, tape.gradients(of: s, wrt: [xv], seed: e)[0].value) }
