import Foundation

/// Training a noise-conditional classifier p_t(y | x(t)) for class-conditional sampling (Song et al. 2021,
/// §5 and appendix I.1): data perturbed by the SDE a score model is trained on, x_t = m(t)x₀ + σ(t)z with
/// t ~ U(ε, T), and the cross-entropy of the labels, L = E_t E_{(x₀, y)} E_z [−log p_θ(y | x_t, t)].
public struct NoiseConditionalClassification: TrainingObjective {
    public var sde: any SDE
    /// Smallest training time ε.
    public var epsilon: Double

    public init(sde: any SDE, epsilon: Double = 1e-5) {
        self.sde = sde
        self.epsilon = epsilon
    }

    public var needsLabels: Bool { true }

    public func loss(model: (Var, Var) -> Var, batch x: Tensor, labels: [Int]?, tape: Tape, rng: inout Philox) -> Var {
        guard let labels, labels.count == x.shape[0] else { preconditionFailure("the classifier objective needs a label per row") }
        let n = x.shape[0]
        let t = (0..<n).map { _ in epsilon + Double(rng.uniform()) * (sde.T - epsilon) }
        let z = rng.gaussian(x.shape)
        let noisy = tape.constant(sde.perturb(x, t: t, noise: z))
        return crossEntropy(model(noisy, tape.constant(Tensor(shape: [n], scalars: t.map { Float($0) }))), labels: labels)
    }

    public static let entry = ObjectiveEntry(
        name: "classifier",
        summary: "a noise-conditional classifier p_t(y | x(t)) of a labelled data set, on the SDE of the score model it will guide (cross-entropy)",
        needsLabels: true,
        parameters: [
            Parameter("sde", .choice(SDERegistry.names), default: .value("ve"), help: "the SDE (the score model's)"),
        ],
        sdeName: { v in v.string("sde") },
        make: { _, schedule in NoiseConditionalClassification(sde: schedule.sde!) })

    /// The times a classifier's accuracy is reported at: these fractions of T.
    public static let reportedFractions = [0.01, 0.1, 0.25, 0.5, 1]

    /// The accuracy reported for a trained classifier: at `reportedFractions` of T, with noise from `seed`.
    public static func report(_ classifier: any NoiseConditionalClassifier, sde: any SDE, data: Tensor, labels: [Int], seed: UInt64,
                              threads: Int = 2) throws -> [(t: Double, accuracy: Double)] {
        try accuracy(classifier, sde: sde, data: data, labels: labels, times: reportedFractions.map { $0 * sde.T }, seed: seed &+ RandomPurpose.classifierReportOffset, threads: threads)
    }

    /// Accuracy of a classifier on labelled data perturbed to each of `times` (fresh noise from `seed`); a row
    /// whose probabilities are not finite counts as wrong.
    public static func accuracy(_ classifier: any NoiseConditionalClassifier, sde: any SDE, data: Tensor, labels: [Int],
                                times: [Double], seed: UInt64, threads: Int = 2) throws -> [(t: Double, accuracy: Double)] {
        let n = data.shape[0]
        return try times.enumerated().map { k, t in
            let right = try RowParallel.map(count: n, chunkSize: 256, threads: threads, control: nil) { rows -> Int in
                var rng = Philox(seed: seed, stream: UInt64(k) &* 1_000_003 &+ UInt64(rows.lowerBound))
                let x = data.rows(rows)
                let ts = [Double](repeating: t, count: rows.count)
                let p = classifier.probabilities(sde.perturb(x, t: ts, noise: rng.gaussian(x.shape)), t: ts)
                let k = p.shape[1]
                var right = 0
                for (i, r) in rows.enumerated() {
                    var best = -1, top = -Float.infinity
                    for j in 0..<k where p.scalars[i * k + j] > top { best = j; top = p.scalars[i * k + j] }
                    if best == labels[r] { right += 1 }
                }
                return right
            }.reduce(0, +)
            return (t, Double(right) / Double(n))
        }
    }
}
