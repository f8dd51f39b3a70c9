/// The multilayer perceptron score network for points in ℝᵈ:
/// input → [Linear → activation] × k → Linear(d), where the input is x, or [x, γ(t)] with Gaussian Fourier
/// features γ(t) of the noise level when time-conditioned (the fixtures' `TNet`). Parameters are named
/// `net.0.weight`, `net.0.bias`, `net.2.weight`, … as in `nn.Sequential(Linear, act, Linear, act, …)`, and the
/// frequencies `embed.W`.
public struct MLPScoreNet: ScoreNetwork {
    public struct Config: Codable, Sendable, Equatable {
        public var dimension: Int
        public var hidden: [Int]
        public var activation: Pointwise
        /// Number of Fourier features of t (0: unconditional).
        public var timeFeatures: Int
        public var fourierScale: Float

        public init(dimension: Int = 2, hidden: [Int] = [128, 128, 128], activation: Pointwise = .silu,
                    timeFeatures: Int = 32, fourierScale: Float = 16) {
            self.dimension = dimension
            self.hidden = hidden
            self.activation = activation
            self.timeFeatures = timeFeatures
            self.fourierScale = fourierScale
        }
    }

    public let config: Config
    let embed: GaussianFourierProjection?
    let layers: [Linear]

    public var isTimeConditioned: Bool { embed != nil }

    public init(_ config: Config, parameters: inout ParameterSet, rng: inout Philox,
                prefix: String = "net", embedName: String = "embed.W") {
        precondition(config.dimension >= 1 && !config.hidden.isEmpty && config.hidden.allSatisfy { $0 >= 1 })
        self.config = config
        // Frequencies first, as the fixtures' module registers them.
        embed = config.timeFeatures > 0
            ? GaussianFourierProjection(embedName, features: config.timeFeatures, scale: config.fourierScale,
                                        in: &parameters, rng: &rng)
            : nil
        let widths = [config.dimension + config.timeFeatures] + config.hidden + [config.dimension]
        layers = (0..<(widths.count - 1)).map { i in
            Linear("\(prefix).\(2 * i)", widths[i], widths[i + 1], in: &parameters, rng: &rng)
        }
    }

    public func callAsFunction(_ x: Var, _ t: Var, _ p: [Var]) -> Var {
        var h = x
        if let embed { h = Var.concatenate([x, embed(t, p)], axis: 1) }
        for (i, layer) in layers.enumerated() {
            h = layer(h, p)
            if i < layers.count - 1 { h = h.apply(config.activation) }
        }
        return h
    }
}
