/// Sliced score matching (Song et al. 2019): with random projections v,
/// J(θ) = E_{x,v}[vᵀ ∇ₓ(vᵀ s_θ(x)) + ½ (vᵀ s_θ(x))²]; the variance-reduced form (SSM-VR) replaces ½(vᵀs)² by
/// its expectation ½|s|² (exact for probes with E[vvᵀ] = I). One recorded backward pass per probe.
public struct SlicedScoreMatching: ScoreMatchingObjective {
    public var probe: Probe
    public var varianceReduced: Bool
    /// Probes per data point.
    public var projections: Int

    public init(probe: Probe = .rademacher, varianceReduced: Bool = false, projections: Int = 1) {
        precondition(projections >= 1)
        self.probe = probe
        self.varianceReduced = varianceReduced
        self.projections = projections
    }

    public func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var {
        let probes = (0..<projections).map { _ in probe.draw(x.shape, &rng) }
        return loss(score: score, batch: x, probes: probes, tape: tape)
    }

    /// The loss with given probe vectors (one tensor of x's shape per projection).
    public func loss(score: (Var, Var) -> Var, batch x: Tensor, probes: [Tensor], tape: Tape) -> Var {
        let n = x.shape[0]
        let xv = tape.variable(x)
        let s = score(xv, tape.times(0, n))
        var total: Var? = nil
        for v in probes {
            let vs = (s * v).sumPerRow()  // vᵀs per row
            let vJ = tape.gradients(of: vs, wrt: [xv], seed: .ones([n]), createGraph: true)[0]  // vᵀ∂s/∂x
            let vJv = (vJ * v).sum()
            let second = varianceReduced ? (s.squared() * 0.5).sum() : (vs.squared() * 0.5).sum()
            let term = vJv + second
            total = total.map { $0 + term } ?? term
        }
        return total! * (1 / Float(n * probes.count))
    }
}

extension SlicedScoreMatching {
    public static let entry = ObjectiveEntry(
        name: "sliced", summary: "sliced score matching: random projections vᵀ∇ₓ(vᵀs) + ½(vᵀs)²",
        kinds: [.points],
        parameters: [
            Parameter("probe", .choice(Probe.allCases.map(\.rawValue)), default: .value("rademacher"), help: "distribution of the projections v"),
            Parameter("variance_reduced", .boolean, default: .value(false), help: "SSM-VR: ½|s|² in place of ½(vᵀs)²"),
            Parameter("projections", .integer(1...64), default: .value(1), help: "projections per data point"),
        ],
        make: { v, _ in
            SlicedScoreMatching(probe: Probe(rawValue: v.string("probe"))!, varianceReduced: v.bool("variance_reduced"),
                                projections: v.int("projections"))
        })
}
