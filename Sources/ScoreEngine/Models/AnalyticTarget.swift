/// A distribution whose score is known in closed form, sampled without training: s(x) = ∇ₓ log p(x) by
/// automatic differentiation of log p. The samplers that need no noise conditioning (Langevin) apply to it.
public struct AnalyticTarget: ScoreSource {
    public let name: String
    public let summary: String
    public let sampleShape: [Int]
    let density: LogDensityScore

    public init(name: String, summary: String, sampleShape: [Int], logDensity: @escaping @Sendable (Var) -> Var) {
        self.name = name
        self.summary = summary
        self.sampleShape = sampleShape
        density = LogDensityScore(logDensity)
    }

    public var schedule: NoiseSchedule { .none }
    public func score(_ x: Var, t: [Double]) -> Var { density.score(x, t: t) }

    /// The Langevin tutorial's donut, log p(x) = −(|x| − 2.6)²/0.033 (the `donut` data set draws from it exactly).
    public static let donut = AnalyticTarget(
        name: "donut", summary: "the Langevin tutorial's donut, log p(x) = −(|x| − 2.6)²/0.033 + const",
        sampleShape: [2], logDensity: Toy2D.donutLogDensity)

    public static let all: [AnalyticTarget] = [donut]
    public static func named(_ name: String) -> AnalyticTarget? { all.first { $0.name == name } }
}
