import ScoreEngine
import Testing

/// Losses, gradients and Jacobians against PyTorch (`../shared/fixtures`, made by `make_fixtures.py`).
@Suite struct FixtureConformanceTests {
    /// The swiss-roll MLP 2-64-64-64-2 with LogSigmoid, weights from the fixture.
    static func swissRollNet(_ f: Safetensors.File) throws -> (MLPScoreNet, ParameterSet) {
        var params = ParameterSet()
        var rng = Philox(seed: 0)
        let net = MLPScoreNet(.init(dimension: 2, hidden: [64, 64, 64], activation: .logSigmoid, timeFeatures: 0),
                              parameters: &params, rng: &rng)
        try params.load(from: f.tensors)
        return (net, params)
    }

    static func gradients(_ loss: Var, _ p: [Var], _ params: ParameterSet) -> [String: Tensor] {
        let g = loss.tape.gradients(of: loss, wrt: p)
        return Dictionary(uniqueKeysWithValues: zip(params.names, g.map(\.value)))
    }

    @Test func exactScoreMatchingLossGradientsAndJacobian() throws {
        let f = try Fixtures.load("mlp_exact_sm")
        let (net, params) = try Self.swissRollNet(f)
        let x = f["input.x"]!
        let tape = Tape()
        let p = params.bind(to: tape, training: true)
        var rng = Philox(seed: 1)
        let loss = ExactScoreMatching().loss(score: { net($0, $1, p) }, batch: x, tape: tape, rng: &rng)
        expectRelClose(loss.value, f["output.loss"]!.reshaped([]), rtol: 1e-4, "loss")
        let grads = Self.gradients(loss, p, params)
        for name in params.names {
            expectRelClose(grads[name]!, f["grad.\(name)"]!, rtol: 1e-4, "grad \(name)")
        }
        // The Jacobian ∂s/∂x per example, row by row from the backward pass.
        let t2 = Tape(recording: true)
        let xv = t2.variable(x)
        let s = net(xv, t2.constant(.zeros([32])), params.bind(to: t2, training: false))
        var jac = Tensor.zeros([32, 2, 2])
        for i in 0..<2 {
            var e = Tensor.zeros([32, 2])
            for b in 0..<32 { e.scalars[b * 2 + i] = 1 }
            let row = t2.gradients(of: s, wrt: [xv], seed: e)[0].value
            for b in 0..<32 { for j in 0..<2 { jac.scalars[b * 4 + i * 2 + j] = row.scalars[b * 2 + j] } }
        }
        expectRelClose(jac, f["output.jacobian"]!, rtol: 1e-4, "jacobian")
    }

    @Test func slicedScoreMatchingLossAndGradients() throws {
        let f = try Fixtures.load("mlp_sliced_sm")
        let (net, params) = try Self.swissRollNet(f)
        let tape = Tape()
        let p = params.bind(to: tape, training: true)
        let loss = SlicedScoreMatching().loss(score: { net($0, $1, p) }, batch: f["input.x"]!,
                                              probes: [f["input.v"]!], tape: tape)
        expectRelClose(loss.value, f["output.loss"]!.reshaped([]), rtol: 1e-4, "loss")
        let grads = Self.gradients(loss, p, params)
        for name in params.names {
            expectRelClose(grads[name]!, f["grad.\(name)"]!, rtol: 1e-4, "grad \(name)")
        }
    }

    @Test func veSDEDenoisingScoreMatchingLossAndGradients() throws {
        let f = try Fixtures.load("vesde_dsm")
        var params = ParameterSet()
        var rng = Philox(seed: 0)
        let net = MLPScoreNet(.init(dimension: 2, hidden: [64, 64], activation: .silu, timeFeatures: 32),
                              parameters: &params, rng: &rng, prefix: "f", embedName: "W")
        try params.load(from: f.tensors)
        let sde = VESDE(sigmaMin: 0.01, sigmaMax: 3)
        let x = f["input.x"]!, t = f["input.t"]!
        let tape = Tape()
        let p = params.bind(to: tape, training: true)
        let score: (Var, Var) -> Var = { x, t in net(x, t, p) / sde.std(t.value).reshaped([t.shape[0], 1]) }
        let loss = ContinuousDenoisingScoreMatching(sde: sde).loss(
            score: score, batch: x, t: t.scalars.map(Double.init), noise: f["input.z"]!, tape: tape)
        expectRelClose(loss.value, f["output.loss"]!.reshaped([]), rtol: 1e-4, "loss")
        let grads = Self.gradients(loss, p, params)
        for name in params.names where params.trainable[params.names.firstIndex(of: name)!] {
            expectRelClose(grads[name]!, f["grad.\(name)"]!, rtol: 1e-4, "grad \(name)")
        }
    }
}
