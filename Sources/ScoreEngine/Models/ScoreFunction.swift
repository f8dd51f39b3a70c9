/// s(x, t) ≈ ∇ₓ log p_t(x) for a batch x of shape [n, …] with per-row noise levels t: what samplers and the
/// likelihood consume. The score is built on x's tape, so it can be differentiated with respect to x
/// (exact divergences, Hutchinson probes). Models without noise conditioning ignore t.
public protocol ScoreFunction: Sendable {
    func score(_ x: Var, t: [Double]) -> Var
}

/// A network mapping (x, t) to an output of x's shape, with its parameters bound on the tape as `p`.
public protocol ScoreNetwork: Sendable {
    /// Whether the output depends on t (else t is ignored).
    var isTimeConditioned: Bool { get }
    func callAsFunction(_ x: Var, _ t: Var, _ p: [Var]) -> Var
}

/// A score given by the gradient of a log-density written with taped operations:
/// s(x) = ∇ₓ log p(x), e.g. the donut log p(x) = −(|x| − 2.6)²/0.033 of the Langevin tutorial.
public struct LogDensityScore: ScoreFunction {
    public let logDensity: @Sendable (Var) -> Var

    public init(_ logDensity: @escaping @Sendable (Var) -> Var) { self.logDensity = logDensity }

    public func score(_ x: Var, t: [Double]) -> Var {
        let tape = x.tape
        if x.requiresGrad {
            // Keep the history, so the score can be differentiated with respect to x again.
            return tape.gradient(of: logDensity(x).sum(), wrt: x, createGraph: true)
        }
        let wasRecording = tape.isRecording
        tape.isRecording = true
        defer { tape.isRecording = wasRecording }
        let leaf = tape.variable(x.value)
        return tape.gradient(of: logDensity(leaf).sum(), wrt: leaf)
    }
}
