/// What a `Trainer` minimises: a loss for one batch of data (and its labels, for objectives that need them).
/// `model(x, t)` is the network's output (`ScoreModel.score`) with its parameters as taped variables; the loss
/// is a rank-0 `Var` whose gradient with respect to them trains the model.
public protocol TrainingObjective: Sendable {
    /// Whether the data's labels are needed (then `labels` holds one per row of `batch`).
    var needsLabels: Bool { get }
    func loss(model: (Var, Var) -> Var, batch x: Tensor, labels: [Int]?, tape: Tape, rng: inout Philox) -> Var
}

/// A score-matching loss for one batch of data. `score(x, t)` is the model with its parameters as taped
/// variables.
public protocol ScoreMatchingObjective: TrainingObjective {
    func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var
}

extension ScoreMatchingObjective {
    public var needsLabels: Bool { false }
    public func loss(model: (Var, Var) -> Var, batch x: Tensor, labels: [Int]?, tape: Tape, rng: inout Philox) -> Var {
        loss(score: model, batch: x, tape: tape, rng: &rng)
    }
}

/// How probe vectors v are drawn for sliced score matching and the Hutchinson trace estimator.
public enum Probe: String, Sendable, Codable, CaseIterable {
    /// ±1 entries (lowest variance for the trace estimator).
    case rademacher
    /// Standard normal entries.
    case gaussian

    public func draw(_ shape: [Int], _ rng: inout Philox) -> Tensor {
        switch self {
        case .rademacher: return Tensor(shape: shape) { p, n in for i in 0..<n { p[i] = rng.rademacher() } }
        case .gaussian: return rng.gaussian(shape)
        }
    }
}

extension Tape {
    /// A per-row noise-level tensor of n copies of t.
    func times(_ t: Float, _ n: Int) -> Var { constant(Tensor(repeating: t, shape: [n])) }
}
