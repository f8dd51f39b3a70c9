/// The network of a noise-conditional classifier p_t(y | x(t)) (Song et al. 2021, §5 and appendix I): K logits
/// of an input perturbed to time t. For points the time-conditioned MLP of the score models with K outputs; for
/// images the U-Net's encoder half (its four time-conditioned convolution blocks, named as in the U-Net:
/// conv1…4, dense1…4, gnorm1…4) followed by global average pooling and a linear head (`head`).
public struct ClassifierNet: ScoreNetwork {
    public struct Config: Sendable, Equatable {
        public var classes: Int
        public var body: Body

        public enum Body: Sendable, Equatable {
            case mlp(MLPScoreNet.Config)
            case encoder(UNetScoreNet.Config)
        }

        public init(classes: Int, body: Body) {
            self.classes = classes
            self.body = body
        }

        public var sampleShape: [Int] {
            switch body {
            case .mlp(let c): return [c.dimension]
            case .encoder(let c): return c.imageShape
            }
        }

        public var dataScale: Double? {
            switch body {
            case .mlp(let c): return c.dataScale
            case .encoder(let c): return c.dataScale
            }
        }
    }

    public let config: Config
    let mlp: MLPScoreNet?
    let encoder: TimeConditionedEncoder?
    let head: Linear?

    public var isTimeConditioned: Bool { true }

    public init(_ config: Config, parameters p: inout ParameterSet, rng: inout Philox) {
        precondition(config.classes >= 2)
        self.config = config
        switch config.body {
        case .mlp(var c):
            c.outputs = config.classes
            mlp = MLPScoreNet(c, parameters: &p, rng: &rng)
            encoder = nil
            head = nil
        case .encoder(let c):
            let e = TimeConditionedEncoder(c, parameters: &p, rng: &rng)
            encoder = e
            head = Linear("head", c.channels[3], config.classes, in: &p, rng: &rng)
            mlp = nil
        }
    }

    /// Logits [n, K].
    public func callAsFunction(_ x: Var, _ t: Var, _ p: [Var]) -> Var {
        if let mlp { return mlp(x, t, p) }
        let h = encoder!(x, t, p)
        let n = h.shape[0], c = h.shape[1], area = h.shape[2] * h.shape[3]
        return head!((h.sum(to: [n, c, 1, 1]) * (1 / Float(area))).reshaped([n, c]), p)
    }
}

/// The four down blocks of `UNetScoreNet` on their own: hᵢ = swish(gnormᵢ(convᵢ(hᵢ₋₁) + denseᵢ(swish(γ(t))))).
struct TimeConditionedEncoder: Sendable {
    let embed: GaussianFourierProjection
    let down: [Conv2d]
    let dense: [Linear]
    let norms: [GroupNorm]

    init(_ config: UNetScoreNet.Config, parameters p: inout ParameterSet, rng: inout Philox) {
        precondition(config.problem == nil, config.problem ?? "")
        let ch = config.channels, ed = config.embedDim
        embed = GaussianFourierProjection("embed.W", features: ed, scale: config.fourierScale, in: &p, rng: &rng)
        let widthsIn = [config.imageShape[0]] + Array(ch.prefix(3))
        var down: [Conv2d] = [], dense: [Linear] = [], norms: [GroupNorm] = []
        for i in 0..<4 {
            down.append(Conv2d("conv\(i + 1)", widthsIn[i], ch[i], kernel: 3, stride: i == 0 ? 1 : 2, bias: false, in: &p, rng: &rng))
            dense.append(Linear("dense\(i + 1).dense", ed, ch[i], in: &p, rng: &rng))
            norms.append(GroupNorm("gnorm\(i + 1)", groups: GroupNorm.groups(for: ch[i], preferred: i == 0 ? 4 : 32), channels: ch[i], in: &p))
        }
        self.down = down
        self.dense = dense
        self.norms = norms
    }

    func callAsFunction(_ x: Var, _ t: Var, _ p: [Var]) -> Var {
        let e = embed(t, p).apply(.silu)
        var h = x
        for i in 0..<4 {
            let c = down[i](h, p)
            h = norms[i].silu(c, shift: dense[i](e, p), p)
        }
        return h
    }
}

/// A classifier of data perturbed to time t: logits of p_t(y | x). Trained classifiers (`ScoreModel`s whose
/// architecture is a classifier) are one; the exact posterior of a Gaussian mixture (`GaussianMixture`) another.
public protocol NoiseConditionalClassifier: Sendable {
    var classes: Int { get }
    /// Logits [n, K] of x [n, …] at per-row times t, on x's tape.
    func logits(_ x: Var, t: [Double]) -> Var
    /// ∇ₓ log p_t(y | x) for each row's label (below, from the logits; `SharedClassifier` batches it).
    func logProbabilityGradient(_ x: Tensor, t: [Double], labels: [Int]) -> Tensor
}

extension NoiseConditionalClassifier {
    /// ∇ₓ log p_t(y | x) for each row's label: the gradient of log softmax(logits)[y] on a recording tape of
    /// its own (the caller's tape may not record).
    public func logProbabilityGradient(_ x: Tensor, t: [Double], labels: [Int]) -> Tensor {
        let tape = Tape()
        let v = tape.variable(x)
        let lp = logSoftmaxPicked(logits(v, t: t), labels: labels)
        return tape.gradients(of: lp.sum(), wrt: [v])[0].value
    }

    /// The probabilities p_t(y | x) [n, K].
    public func probabilities(_ x: Tensor, t: [Double]) -> Tensor {
        let tape = Tape(recording: false)
        let z = logits(tape.constant(x), t: t).value
        return softmaxRows(z)
    }
}

/// Row-wise softmax of logits [n, K].
public func softmaxRows(_ z: Tensor) -> Tensor {
    let n = z.shape[0], k = z.shape[1]
    var out = z
    for i in 0..<n {
        let row = z.scalars[(i * k)..<((i + 1) * k)]
        let m = row.max() ?? 0
        let e = row.map { Foundation.exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        for j in 0..<k { out.scalars[i * k + j] = Float(e[j] / s) }
    }
    return out
}

/// log softmax(z)[i, labels[i]] per row ([n, 1]), with each row's maximum (a constant) taken out of the
/// log-sum-exp.
public func logSoftmaxPicked(_ z: Var, labels: [Int]) -> Var {
    let n = z.shape[0], k = z.shape[1]
    precondition(labels.count == n && labels.allSatisfy { $0 >= 0 && $0 < k })
    var maxima = [Float](repeating: 0, count: n), onehot = [Float](repeating: 0, count: n * k)
    for i in 0..<n {
        maxima[i] = z.value.scalars[(i * k)..<((i + 1) * k)].max() ?? 0
        onehot[i * k + labels[i]] = 1
    }
    let shifted = z - z.tape.constant(Tensor(shape: [n, 1], scalars: maxima))
    let logSumExp = shifted.apply(.exp).sum(to: [n, 1]).apply(.log)
    let picked = (shifted * z.tape.constant(Tensor(shape: [n, k], scalars: onehot))).sum(to: [n, 1])
    return picked - logSumExp
}

/// Mean cross-entropy −log softmax(z)[label] over the rows.
public func crossEntropy(_ z: Var, labels: [Int]) -> Var {
    -logSoftmaxPicked(z, labels: labels).sum() * (1 / Float(z.shape[0]))
}

import Foundation
