/// Everything that defines a training run: data, network, objective and perturbation, optimisation, seed.
/// The command line and the HTTP API both build one; `validated()` checks every field and names the one at
/// fault. Field names are the API's (snake_case).
public struct TrainingRecipe: Sendable, Equatable, Codable {
    public enum ObjectiveKind: String, Sendable, Codable, CaseIterable {
        /// Continuous-time denoising score matching on an SDE, or with `sigma` set, one noise scale.
        case dsm
        /// NCSN: denoising score matching over a geometric noise ladder.
        case ncsn
        /// Exact (Hyvärinen) score matching.
        case exact
        /// Sliced score matching.
        case sliced
    }

    public enum SDEKind: String, Sendable, Codable, CaseIterable { case ve, vp, subvp }

    public var dataset: String = "swiss_roll"
    /// Points drawn from a built-in generator (ignored for stored data sets).
    public var datasetSize: Int = 10_000
    public var objective: ObjectiveKind = .dsm
    public var sde: SDEKind = .ve
    /// One noise scale for `dsm` (then no SDE is used).
    public var sigma: Double? = nil
    /// VE and NCSN: σ_min, σ_max (σ_max nil: resolved from the data, see `resolvedSigmaMax`).
    public var sigmaMin: Double = 0.01
    public var sigmaMax: Double? = nil
    /// VP and sub-VP: β_min, β_max.
    public var betaMin: Double = 0.1
    public var betaMax: Double = 20
    /// NCSN: number of noise levels.
    public var levels: Int = 10
    public var weighting: ContinuousDenoisingScoreMatching.Weighting = .sigmaSquared
    /// Sliced score matching: probe distribution and variance reduction.
    public var probe: Probe = .rademacher
    public var varianceReduced: Bool = false
    /// Network: hidden widths, activation, Fourier features of t and their scale.
    public var hidden: [Int] = [128, 128, 128]
    public var activation: Pointwise = .silu
    public var timeFeatures: Int = 32
    public var fourierScale: Double = 4
    public var conditioning: MLPScoreNet.Config.Conditioning = .layers
    /// Image models (U-Net): the widths of its four levels.
    public var channels: [Int] = [32, 64, 128, 256]
    /// Precondition the network's input by the data's scale (see `ScoreModel`).
    public var preconditioning: Bool = true
    public var steps: Int = 5000
    public var batchSize: Int = 256
    public var learningRate: Double = 3e-3
    public var warmup: Int = 0
    /// Learning-rate schedule after warm-up: constant, or cosine decay to zero at the last step.
    public var schedule: LearningRateSchedule = .cosine
    public enum LearningRateSchedule: String, Sendable, Codable, CaseIterable { case constant, cosine }
    public var gradClip: Double = 1
    /// EMA decay of the weights used for sampling (0: no EMA).
    public var ema: Double = 0.99
    public var seed: UInt64 = 0

    public init() {}

    /// The defaults for image data: the seed notebook's recipe (U-Net, VE SDE σ 0.01…22, time embedding 256 with
    /// Fourier scale 8, batch 32, no input preconditioning), with Adam at 5e-4 after a 500-step warm-up and
    /// cosine decay, gradient clipping at 1 and an EMA of 0.999, for a budget of 20 000 steps (about 13
    /// epochs of MNIST).
    public static var imageDefaults: TrainingRecipe {
        var r = TrainingRecipe()
        r.dataset = "mnist"
        r.sigmaMax = 22
        r.timeFeatures = 256
        r.fourierScale = 8
        r.preconditioning = false
        r.steps = 20_000
        r.batchSize = 32
        r.learningRate = 5e-4
        r.warmup = 500
        r.ema = 0.999
        return r
    }

    enum CodingKeys: String, CodingKey {
        case dataset, datasetSize = "dataset_size", objective, sde, sigma, sigmaMin = "sigma_min", sigmaMax = "sigma_max"
        case betaMin = "beta_min", betaMax = "beta_max", levels, weighting, probe, varianceReduced = "variance_reduced"
        case hidden, activation, timeFeatures = "time_features", fourierScale = "fourier_scale", conditioning, preconditioning, channels
        case steps, batchSize = "batch_size", learningRate = "learning_rate", warmup, schedule = "lr_schedule", gradClip = "grad_clip", ema, seed
    }

    /// Every field name a request may set.
    public static let fieldNames: [String] = [
        "dataset", "dataset_size", "objective", "sde", "sigma", "sigma_min", "sigma_max", "beta_min", "beta_max",
        "levels", "weighting", "probe", "variance_reduced", "hidden", "activation", "time_features", "fourier_scale", "conditioning", "preconditioning", "channels",
        "steps", "batch_size", "learning_rate", "warmup", "lr_schedule", "grad_clip", "ema", "seed",
    ]

    /// Activations a network may use.
    public static let activations: [Pointwise] = [.silu, .relu, .elu, .tanh, .softplus, .logSigmoid, .sigmoid]

    /// A request error naming the field at fault.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let field: String
        public let message: String
        public init(_ field: String, _ message: String) { self.field = field; self.message = message }
        public var description: String { "\(field): \(message)" }
    }

    /// Limits that keep one request within a machine's means.
    public enum Limits {
        public static let maxSteps = 10_000_000
        public static let maxBatch = 65_536
        public static let maxDatasetSize = 1_000_000
        public static let maxWidth = 4096
        public static let maxDepth = 16
        public static let maxTimeFeatures = 1024
        public static let maxLevels = 10_000
        public static let maxChannels = 1024
    }

    /// Checks every field; throws `Invalid` for the first one out of range.
    public func validated() throws -> TrainingRecipe {
        func check(_ ok: Bool, _ field: String, _ message: @autoclosure () -> String) throws {
            if !ok { throw Invalid(field, message()) }
        }
        try check(!dataset.isEmpty, "dataset", "must name a data set")
        try check((1...Limits.maxDatasetSize).contains(datasetSize), "dataset_size", "must be between 1 and \(Limits.maxDatasetSize)")
        if let s = sigma { try check(s > 0 && s.isFinite, "sigma", "must be a positive number") }
        try check(sigmaMin > 0 && sigmaMin.isFinite, "sigma_min", "must be a positive number")
        if let s = sigmaMax { try check(s > sigmaMin && s.isFinite, "sigma_max", "must be a number above sigma_min (\(sigmaMin))") }
        try check(betaMin >= 0 && betaMin.isFinite, "beta_min", "must be a non-negative number")
        try check(betaMax > betaMin && betaMax.isFinite && betaMax <= 1000, "beta_max", "must be above beta_min (\(betaMin)) and at most 1000")
        try check((2...Limits.maxLevels).contains(levels), "levels", "must be between 2 and \(Limits.maxLevels)")
        try check(!hidden.isEmpty && hidden.count <= Limits.maxDepth, "hidden", "must list 1 to \(Limits.maxDepth) layer widths")
        try check(hidden.allSatisfy { (1...Limits.maxWidth).contains($0) }, "hidden", "widths must be between 1 and \(Limits.maxWidth)")
        try check(TrainingRecipe.activations.contains(activation), "activation",
                  "must be one of \(TrainingRecipe.activations.map(\.rawValue).joined(separator: ", "))")
        try check(timeFeatures >= 2 && timeFeatures % 2 == 0 && timeFeatures <= Limits.maxTimeFeatures, "time_features",
                  "must be an even number between 2 and \(Limits.maxTimeFeatures)")
        try check(fourierScale > 0 && fourierScale <= 1000, "fourier_scale", "must be in (0, 1000]")
        try check(channels.count == 4 && channels.allSatisfy { (1...Limits.maxChannels).contains($0) }, "channels",
                  "must list four widths between 1 and \(Limits.maxChannels)")
        try check((1...Limits.maxSteps).contains(steps), "steps", "must be between 1 and \(Limits.maxSteps)")
        try check((1...Limits.maxBatch).contains(batchSize), "batch_size", "must be between 1 and \(Limits.maxBatch)")
        try check(learningRate > 0 && learningRate <= 1, "learning_rate", "must be in (0, 1]")
        try check(warmup >= 0 && warmup <= Limits.maxSteps, "warmup", "must be between 0 and \(Limits.maxSteps)")
        try check(gradClip >= 0 && gradClip.isFinite, "grad_clip", "must be a non-negative number (0: no clipping)")
        try check(ema >= 0 && ema < 1, "ema", "must be in [0, 1) (0: no EMA)")
        if sigma != nil { try check(objective == .dsm, "sigma", "applies to objective dsm only") }
        return self
    }

    /// The perturbation the model is trained under (σ_max resolved against the data when unset).
    public func schedule(data: Tensor) -> NoiseSchedule {
        switch objective {
        case .exact, .sliced: return .none
        case .ncsn:
            return .ladder(NoiseLadder(sigmaMin: sigmaMin, sigmaMax: resolvedSigmaMax(data), levels: levels))
        case .dsm:
            if let s = sigma { return .fixed(sigma: s) }
            switch sde {
            case .ve: return .ve(VESDE(sigmaMin: sigmaMin, sigmaMax: resolvedSigmaMax(data)))
            case .vp: return .vp(VPSDE(betaMin: betaMin, betaMax: betaMax))
            case .subvp: return .subVP(SubVPSDE(betaMin: betaMin, betaMax: betaMax))
            }
        }
    }

    /// σ_max as given, else the larger of the largest distance between two data points (Song & Ermon 2020,
    /// technique 1, so that Langevin chains can move between modes; estimated on up to 2000 points) and 10×
    /// the data's largest per-coordinate standard deviation (so that the VE prior N(0, σ_max²I) has the
    /// variance of p_T within about 1%: the probability-flow ODE carries any prior mismatch deterministically
    /// into its samples). At least 2·σ_min.
    public func resolvedSigmaMax(_ data: Tensor) -> Double {
        if let s = sigmaMax { return s }
        return max(maxPairwiseDistance(data, sample: 2000), 10 * maxCoordinateStd(data), 2 * sigmaMin)
    }

    /// The objective for a schedule.
    public func makeObjective(_ schedule: NoiseSchedule) -> any ScoreMatchingObjective {
        switch (objective, schedule) {
        case (.exact, _): return ExactScoreMatching()
        case (.sliced, _): return SlicedScoreMatching(probe: probe, varianceReduced: varianceReduced)
        case (.ncsn, .ladder(let l)): return AnnealedDenoisingScoreMatching(ladder: l)
        case (.dsm, .fixed(let s)): return DenoisingScoreMatching(sigma: Float(s))
        case (.dsm, _): return ContinuousDenoisingScoreMatching(sde: schedule.sde!, weighting: weighting)
        default: preconditionFailure("objective \(objective) with schedule \(schedule.name)")
        }
    }
}

/// The largest standard deviation of one coordinate over the rows of `data`.
public func maxCoordinateStd(_ data: Tensor) -> Double {
    let n = data.shape[0], d = data.count / max(n, 1)
    guard n > 1 else { return 0 }
    var best = 0.0
    for k in 0..<d {
        var s = 0.0, s2 = 0.0
        for i in 0..<n { let v = Double(data.scalars[i * d + k]); s += v; s2 += v * v }
        let mean = s / Double(n)
        best = max(best, (max(s2 / Double(n) - mean * mean, 0)).squareRoot())
    }
    return best
}

/// The largest Euclidean distance between two rows of `data`, over its first `sample` rows.
public func maxPairwiseDistance(_ data: Tensor, sample: Int) -> Double {
    let n = min(data.shape[0], sample), d = data.count / max(data.shape[0], 1)
    var best: Float = 0
    data.scalars.withUnsafeBufferPointer { p in
        for i in 0..<n {
            for j in (i + 1)..<max(n, i + 1) {
                var s: Float = 0
                for k in 0..<d { let v = p[i * d + k] - p[j * d + k]; s += v * v }
                best = max(best, s)
            }
        }
    }
    return Double(best.squareRoot())
}
