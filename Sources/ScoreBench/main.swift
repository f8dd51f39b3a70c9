import Foundation
import ScoreEngine

var rng = Philox(seed: 0)
let data = Toy2D.swissRoll.sample(1000, rng: &rng)
let model = ScoreModel(architecture: .mlp(.init(dimension: 2, hidden: [64, 64, 64], activation: .logSigmoid, timeFeatures: 0)), schedule: .none, seed: 1)
var params = model.parameters
var adam = Adam(learningRate: 3e-4)
let tape = Tape()
let obj = ExactScoreMatching()
@MainActor func step() {
    tape.reset()
    let idx = (0..<32).map { _ in rng.index(below: 1000) }
    let x = data.rows(at: idx)
    let p = params.bind(to: tape, training: true)
    let loss = obj.loss(score: { model.network($0, $1, p) }, batch: x, tape: tape, rng: &rng)
    let g = tape.gradients(of: loss, wrt: p)
    adam.update(&params, gradients: g.map { $0.value })
}
for _ in 0..<50 { step() }
let t0 = Date()
let n = 2000
for _ in 0..<n { step() }
let dt = Date().timeIntervalSince(t0)
print("exact SM: \(Double(n)/dt) steps/s, nodes \(tape.count)")
