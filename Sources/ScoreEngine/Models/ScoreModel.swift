/// Which network a model uses. Encoded as a tagged object: `{"type": "mlp", "dimension": 2, "hidden": […],
/// "activation": "silu", "conditioning": "layers", "time_features": 32, "fourier_scale": 4, "data_scale": 1.4}`
/// or `{"type": "unet", "image_shape": [1, 28, 28], "channels": […], "time_features": 256, "fourier_scale": 8,
/// "data_scale": null}`, or for a noise-conditional classifier `{"type": "classifier", "classes": 10, "body": …}`
/// with the MLP or the U-Net (whose encoder half it uses) as its body.
public indirect enum Architecture: Sendable, Equatable {
    case mlp(MLPScoreNet.Config)
    case unet(UNetScoreNet.Config)
    case classifier(ClassifierNet.Config)

    public var json: JSONValue {
        switch self {
        case .mlp(let c):
            return ["type": "mlp", "dimension": .number(Double(c.dimension)), "hidden": c.hidden.json,
                    "activation": .string(c.activation.rawValue), "conditioning": .string(c.conditioning.rawValue),
                    "time_features": .number(Double(c.timeFeatures)), "fourier_scale": .number(Double(c.fourierScale)),
                    "data_scale": c.dataScale.map { .number($0) } ?? .null]
        case .unet(let c):
            return ["type": "unet", "image_shape": c.imageShape.json, "channels": c.channels.json,
                    "time_features": .number(Double(c.embedDim)), "fourier_scale": .number(Double(c.fourierScale)),
                    "data_scale": c.dataScale.map { .number($0) } ?? .null]
        case .classifier(let c):
            let body: Architecture
            switch c.body {
            case .mlp(let m): body = .mlp(m)
            case .encoder(let u): body = .unet(u)
            }
            return ["type": "classifier", "classes": .number(Double(c.classes)), "body": body.json]
        }
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads the tagged object written by `json`, checking every field.
    public init(json: JSONValue) throws {
        guard let o = json.object, let type = o["type"]?.string else { throw Invalid(description: "an architecture needs a type") }
        func int(_ k: String, _ r: ClosedRange<Int>) throws -> Int {
            guard let x = o[k]?.number, x == x.rounded(), x >= Double(r.lowerBound), x <= Double(r.upperBound) else { throw Invalid(description: "\(type): \(k) must be an integer in \(r)") }
            return Int(x)
        }
        func ints(_ k: String) throws -> [Int] {
            guard let a = o[k]?.array, !a.isEmpty, a.count <= 64 else { throw Invalid(description: "\(type): \(k) must list integers") }
            return try a.map {
                guard let x = $0.number, x == x.rounded(), x >= 1, x <= 65_536 else { throw Invalid(description: "\(type): \(k) must list positive integers") }
                return Int(x)
            }
        }
        func number(_ k: String) throws -> Double {
            guard let x = o[k]?.number, x.isFinite, x > 0 else { throw Invalid(description: "\(type): \(k) must be a positive number") }
            return x
        }
        let dataScale: Double? = o["data_scale"] == nil || o["data_scale"] == .null ? nil : try number("data_scale")
        switch type {
        case "mlp":
            guard let a = o["activation"]?.string.flatMap(Pointwise.init(rawValue:)),
                  let c = o["conditioning"]?.string.flatMap(MLPScoreNet.Config.Conditioning.init(rawValue:)) else {
                throw Invalid(description: "mlp: unknown activation or conditioning")
            }
            let m = MLPScoreNet.Config(dimension: try int("dimension", 1...(1 << 20)), hidden: try ints("hidden"), activation: a,
                                       timeFeatures: try int("time_features", 0...4096), fourierScale: Float(try number("fourier_scale")),
                                       conditioning: c, dataScale: dataScale)
            if let problem = m.problem { throw Invalid(description: "mlp: \(problem)") }
            self = .mlp(m)
        case "unet":
            let c = UNetScoreNet.Config(imageShape: try ints("image_shape"), channels: try ints("channels"),
                                        embedDim: try int("time_features", 2...4096), fourierScale: Float(try number("fourier_scale")),
                                        dataScale: dataScale)
            if let problem = c.problem { throw Invalid(description: "unet: \(problem)") }
            self = .unet(c)
        case "classifier":
            guard let b = o["body"] else { throw Invalid(description: "classifier: a body is needed") }
            let classes = try int("classes", 2...65_536)
            switch try Architecture(json: b) {
            case .mlp(let m): self = .classifier(.init(classes: classes, body: .mlp(m)))
            case .unet(let u): self = .classifier(.init(classes: classes, body: .encoder(u)))
            case .classifier: throw Invalid(description: "classifier: the body must be an mlp or a unet")
            }
        default:
            throw Invalid(description: "unknown architecture \(type)")
        }
    }

    /// σ_d of the input preconditioning, if any.
    public var dataScale: Double? {
        switch self {
        case .mlp(let c): return c.dataScale
        case .unet(let c): return c.dataScale
        case .classifier(let c): return c.dataScale
        }
    }

    /// The number of classes of a classifier; nil for a score network.
    public var classes: Int? {
        if case .classifier(let c) = self { return c.classes }
        return nil
    }

    /// Shape of one data point.
    public var sampleShape: [Int] {
        switch self {
        case .mlp(let c): return [c.dimension]
        case .unet(let c): return c.imageShape
        case .classifier(let c): return c.sampleShape
        }
    }
}

/// A trained (or trainable) score model: a network, the perturbation it was trained under and its
/// parameters. For a noise-conditioned network the score is s_θ(x, t) = net(c_in(t)·x, t)/σ(t) with σ(t) the
/// perturbation's std, so the network's target is the unit-scale −z (Song & Ermon 2020, technique 3); with a
/// data scale σ_d, c_in(t) = 1/√(m(t)²σ_d² + σ(t)²) makes its input unit-scale at every noise level
/// (Karras et al. 2022, the preconditioning c_in), else c_in = 1.
///
/// A noise-conditional classifier is stored, trained and loaded the same way (architecture `.classifier`): its
/// output is the logits of p_t(y | x) of the preconditioned input, not divided by σ(t).
public struct ScoreModel: Sendable {
    public let architecture: Architecture
    public let schedule: NoiseSchedule
    public var parameters: ParameterSet
    public let network: any ScoreNetwork

    /// A freshly initialised model; the same seed gives the same initial parameters.
    public init(architecture: Architecture, schedule: NoiseSchedule, seed: UInt64) {
        var rng = Philox(seed: seed).derived(RandomPurpose.initialization)
        var params = ParameterSet()
        switch architecture {
        case .mlp(var c):
            if schedule.perturbation == nil { c.timeFeatures = 0 }  // nothing to condition on
            network = MLPScoreNet(c, parameters: &params, rng: &rng)
            self.architecture = .mlp(c)
        case .unet(let c):
            network = UNetScoreNet(c, parameters: &params, rng: &rng)
            self.architecture = .unet(c)
        case .classifier(let c):
            network = ClassifierNet(c, parameters: &params, rng: &rng)
            self.architecture = .classifier(c)
        }
        self.schedule = schedule
        self.parameters = params
    }

    public var sampleShape: [Int] { architecture.sampleShape }

    /// Whether this is a noise-conditional classifier rather than a score model.
    public var isClassifier: Bool { architecture.classes != nil }

    /// s_θ(x, t) with the parameters bound as `p` (variables when training).
    public func score(_ x: Var, t: Var, parameters p: [Var]) -> Var {
        guard network.isTimeConditioned, let perturbation = schedule.perturbation else { return network(x, t, p) }
        let rows = rowShape(x.shape)
        var input = x
        if let sd = architecture.dataScale {
            let c = t.value.scalars.map { tv -> Float in
                let m = perturbation.meanCoefficient(Double(tv)), s = perturbation.std(Double(tv))
                return Float(1 / (m * m * sd * sd + s * s).squareRoot())
            }
            input = x * Tensor(shape: rows, scalars: c)
        }
        if isClassifier { return network(input, t, p) }
        let sigma = perturbation.std(t.value).reshaped(rows)
        return network(input, t, p) / sigma
    }
}

extension ScoreModel: ScoreSource {
    /// The score with the parameters as constants on x's tape.
    public func score(_ x: Var, t: [Double]) -> Var {
        let tape = x.tape
        let p = parameters.bind(to: tape, training: false)
        return score(x, t: tape.constant(Tensor(shape: [t.count], scalars: t.map { Float($0) })), parameters: p)
    }
}

extension ScoreModel: NoiseConditionalClassifier {
    public var classes: Int { architecture.classes ?? 0 }

    public func logits(_ x: Var, t: [Double]) -> Var {
        precondition(isClassifier, "logits of a score model")
        return score(x, t: t)
    }
}
