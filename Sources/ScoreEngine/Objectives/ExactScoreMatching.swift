/// Exact score matching (Hyvärinen 2005): J(θ) = E_x[½|s_θ(x)|² + tr ∇ₓ s_θ(x)], equal up to a constant to
/// ½E|s_θ(x) − ∇ log p(x)|². The trace takes one backward pass per dimension, each recorded so that the
/// loss can be differentiated again with respect to θ; it is for low-dimensional data.
public struct ExactScoreMatching: ScoreMatchingObjective {
    /// Largest dimension accepted (d backward passes per step).
    public static let maxDimension = 64

    public init() {}

    public func loss(score: (Var, Var) -> Var, batch x: Tensor, tape: Tape, rng: inout Philox) -> Var {
        let n = x.shape[0], d = x.count / n
        precondition(d <= ExactScoreMatching.maxDimension, "exact score matching is for d ≤ \(ExactScoreMatching.maxDimension)")
        let xv = tape.variable(x)
        let s = score(xv, tape.times(0, n))
        var objective = (s.squared() * 0.5).sum()
        for i in 0..<d {
            // eᵢ for every row: the backward pass gives row i of ∂s/∂x, and its i-th entry is ∂sᵢ/∂xᵢ.
            var e = Tensor.zeros(x.shape)
            for b in 0..<n { e.scalars[b * d + i] = 1 }
            let row = tape.gradients(of: s, wrt: [xv], seed: e, createGraph: true)[0]
            objective = objective + (row * e).sum()
        }
        return objective * (1 / Float(n))
    }
}

extension ExactScoreMatching {
    public static let entry = ObjectiveEntry(
        name: "exact", summary: "exact (Hyvärinen) score matching: ½|s|² + tr ∇ₓs, one backward pass per dimension",
        kinds: [.points], parameters: [], make: { _, _ in ExactScoreMatching() })
}
