/// Which network a model uses.
public enum Architecture: Sendable, Equatable, Codable {
    case mlp(MLPScoreNet.Config)

    /// Shape of one data point.
    public var sampleShape: [Int] {
        switch self {
        case .mlp(let c): return [c.dimension]
        }
    }
}

/// A trained (or trainable) score model: a network, the perturbation it was trained under and its
/// parameters. For a noise-conditioned network the score is s_θ(x, t) = net(x, t)/σ(t) with σ(t) the
/// perturbation's std, so the network's target is the unit-scale −z (Song & Ermon 2020, technique 3).
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
        }
        self.schedule = schedule
        self.parameters = params
    }

    public var sampleShape: [Int] { architecture.sampleShape }

    /// s_θ(x, t) with the parameters bound as `p` (variables when training).
    public func score(_ x: Var, t: Var, parameters p: [Var]) -> Var {
        let out = network(x, t, p)
        guard network.isTimeConditioned, let perturbation = schedule.perturbation else { return out }
        let sigma = perturbation.std(t.value).reshaped(rowShape(x.shape))
        return out / sigma
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
