/// The multilayer perceptron score network for points in ℝᵈ:
/// input → [Linear → activation] × k → Linear(d). Unconditional, the input is x. Time-conditioned, with
/// Gaussian Fourier features γ(t) of the noise level, either the input is [x, γ(t)] (`concat`, the fixtures'
/// `TNet`), or in addition every hidden layer adds a learned projection of γ(t) before its activation
/// (`layers`, as the U-Net's dense layers do: hₗ = act(Wₗhₗ₋₁ + bₗ + Uₗγ(t))). Parameters are named
/// `net.0.weight`, `net.0.bias`, `net.2.weight`, … as in `nn.Sequential(Linear, act, Linear, act, …)`, the
/// projections `temb.0.weight`, …, and the frequencies `embed.W`.
public struct MLPScoreNet: ScoreNetwork {
    public struct Config: Sendable, Equatable {
        public var dimension: Int
        public var hidden: [Int]
        public var activation: Pointwise
        /// Number of Fourier features of t (0: unconditional).
        public var timeFeatures: Int
        public var fourierScale: Float
        public var conditioning: Conditioning
        /// σ_d, the data's scale for the input preconditioning of `ScoreModel` (nil: none).
        public var dataScale: Double?
        /// Width of the output: nil for a score (the input's dimension), the number of classes for a classifier.
        public var outputs: Int? = nil

        /// Why these settings cannot make a network (nil: they can).
        public var problem: String? {
            if dimension < 1 || hidden.isEmpty || hidden.contains(where: { $0 < 1 }) { return "the dimension and hidden widths must be positive" }
            if timeFeatures < 0 || timeFeatures % 2 != 0 { return "time_features must be 0 or a positive even number (sine and cosine pairs)" }
            if let o = outputs, o < 1 { return "the outputs must be positive" }
            return nil
        }

        public enum Conditioning: String, Sendable, CaseIterable {
            /// γ(t) concatenated to the input only.
            case concat
            /// γ(t) concatenated to the input and projected into every hidden layer.
            case layers
        }

        public init(dimension: Int = 2, hidden: [Int] = [128, 128, 128], activation: Pointwise = .silu,
                    timeFeatures: Int = 32, fourierScale: Float = 16, conditioning: Conditioning = .concat,
                    dataScale: Double? = nil) {
            self.dataScale = dataScale
            self.dimension = dimension
            self.hidden = hidden
            self.activation = activation
            self.timeFeatures = timeFeatures
            self.fourierScale = fourierScale
            self.conditioning = conditioning
        }
    }

    public let config: Config
    let embed: GaussianFourierProjection?
    let layers: [Linear]
    let timeProjections: [Linear]

    public var isTimeConditioned: Bool { embed != nil }

    public init(_ config: Config, parameters: inout ParameterSet, rng: inout Philox,
                prefix: String = "net", embedName: String = "embed.W") {
        precondition(config.problem == nil, config.problem ?? "")
        self.config = config
        // Frequencies first, as the fixtures' module registers them.
        embed = config.timeFeatures > 0
            ? GaussianFourierProjection(embedName, features: config.timeFeatures, scale: config.fourierScale,
                                        in: &parameters, rng: &rng)
            : nil
        let widths = [config.dimension + config.timeFeatures] + config.hidden + [config.outputs ?? config.dimension]
        layers = (0..<(widths.count - 1)).map { i in
            Linear("\(prefix).\(2 * i)", widths[i], widths[i + 1], in: &parameters, rng: &rng)
        }
        timeProjections = config.timeFeatures > 0 && config.conditioning == .layers
            ? config.hidden.enumerated().map { i, w in
                Linear("temb.\(i)", config.timeFeatures, w, bias: false, in: &parameters, rng: &rng)
            }
            : []
    }

    public func callAsFunction(_ x: Var, _ t: Var, _ p: [Var]) -> Var {
        var h = x
        var features: Var? = nil
        if let embed {
            let g = embed(t, p)
            features = g
            h = Var.concatenate([x, g], axis: 1)
        }
        for (i, layer) in layers.enumerated() {
            h = layer(h, p)
            if i < layers.count - 1 {
                if i < timeProjections.count, let g = features { h = h + timeProjections[i](g, p) }
                h = h.apply(config.activation)
            }
        }
        return h
    }
}
