/// Which network a model uses.
public enum Architecture: Sendable, Equatable, Codable {
    case mlp(MLPScoreNet.Config)
    case unet(UNetScoreNet.Config)

    /// σ_d of the input preconditioning, if any.
    public var dataScale: Double? {
        switch self {
        case .mlp(let c): return c.dataScale
        case .unet(let c): return c.dataScale
        }
    }

    /// Shape of one data point.
    public var sampleShape: [Int] {
        switch self {
        case .mlp(let c): return [c.dimension]
        case .unet(let c): return c.imageShape
        }
    }
}

/// A trained (or trainable) score model: a network, the perturbation it was trained under and its
/// parameters. For a noise-conditioned network the score is s_θ(x, t) = net(c_in(t)·x, t)/σ(t) with σ(t) the
/// perturbation's std, so the network's target is the unit-scale −z (Song & Ermon 2020, technique 3); with a
/// data scale σ_d, c_in(t) = 1/√(m(t)²σ_d² + σ(t)²) makes its input unit-scale at every noise level
/// (Karras et al. 2022, the preconditioning c_in), else c_in = 1.
public struct ScoreModel: Sendable {
    public let architecture: Architecture
    public let schedule: NoiseSchedule
    public var parameters: ParameterSet
    public let network: any ScoreNetwork

    /// A freshly initialised model; the same seed gives the same initial parameters.
    public init(architecture: Architecture, schedule: NoiseSchedule, seed: UInt64) {
        var rng = Philox(seed: seed).derived(0x1417)
        var params = ParameterSet()
        switch architecture {
        case .mlp(var c):
            if schedule.perturbation == nil { c.timeFeatures = 0 }  // nothing to condition on
            network = MLPScoreNet(c, parameters: &params, rng: &rng)
            self.architecture = .mlp(c)
        case .unet(let c):
            network = UNetScoreNet(c, parameters: &params, rng: &rng)
            self.architecture = .unet(c)
        }
        self.schedule = schedule
        self.parameters = params
    }

    public var sampleShape: [Int] { architecture.sampleShape }

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
        let sigma = perturbation.std(t.value).reshaped(rows)
        return network(input, t, p) / sigma
    }
}

extension ScoreModel: ScoreFunction {
    /// The score with the parameters as constants on x's tape.
    public func score(_ x: Var, t: [Double]) -> Var {
        let tape = x.tape
        let p = parameters.bind(to: tape, training: false)
        return score(x, t: tape.constant(Tensor(shape: [t.count], scalars: t.map { Float($0) })), parameters: p)
    }
}
