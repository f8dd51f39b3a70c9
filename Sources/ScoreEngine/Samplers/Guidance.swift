/// Class-conditional sampling with a noise-conditional classifier (Song et al. 2021, §5, eq. 14): the score of
/// p_t(x | y) is ∇ log p_t(x) + ∇ log p_t(y | x), so every sampler that follows a score samples the class
/// when it is given this one. `scale` w multiplies the classifier's term (w > 1 sharpens the classes, as in
/// Dhariwal & Nichol 2021; w = 1 is the exact conditional).
public struct GuidedScore: ScoreFunction, RowSpecificScore {
    public let base: any ScoreFunction
    public let classifier: any NoiseConditionalClassifier
    /// The label of each row of the whole request.
    public let labels: [Int]
    public let scale: Double

    public init(base: any ScoreFunction, classifier: any NoiseConditionalClassifier, labels: [Int], scale: Double) {
        precondition(labels.allSatisfy { $0 >= 0 && $0 < classifier.classes })
        self.base = base
        self.classifier = classifier
        self.labels = labels
        self.scale = scale
    }

    /// The score of a request for `perLabel` samples of each of `labels`, in order (rows grouped by label).
    public static func perLabel(base: any ScoreFunction, classifier: any NoiseConditionalClassifier, labels: [Int], perLabel n: Int,
                                scale: Double) -> GuidedScore {
        GuidedScore(base: base, classifier: classifier, labels: labels.flatMap { [Int](repeating: $0, count: n) }, scale: scale)
    }

    public func score(_ x: Var, t: [Double]) -> Var {
        precondition(labels.count == x.shape[0], "a guided score is evaluated on the rows its labels are for")
        let s = base.score(x, t: t)
        guard scale != 0 else { return s }
        let g = classifier.logProbabilityGradient(x.value, t: t, labels: labels)
        return s + x.tape.constant(g.scaled(by: Float(scale)))
    }

    public func rows(at indices: [Int]) -> any ScoreFunction {
        GuidedScore(base: base, classifier: classifier, labels: indices.map { labels[$0] }, scale: scale)
    }
}

/// A score whose rows differ (each row's class): a run gives each chunk the score of its rows, and a solver
/// that advances some rows only (adaptive steps) the score of those.
public protocol RowSpecificScore: ScoreFunction {
    func rows(at indices: [Int]) -> any ScoreFunction
}

extension ScoreFunction {
    /// The score of some of the rows it is for (itself when its rows do not differ).
    public func restricted(to indices: [Int]) -> any ScoreFunction {
        (self as? any RowSpecificScore)?.rows(at: indices) ?? self
    }
}

/// A mixture of Gaussians Σₖ πₖ N(μₖ, s²I) perturbed by x_t = m(t)x₀ + σ(t)z, for which the noise-conditional
/// classifier and the class-conditional scores are exact: component k at time t is N(mμₖ, (m²s² + σ²)I), the
/// posterior p_t(k | x) ∝ πₖ N(x; mμₖ, vI), the score Σₖ p_t(k | x)(mμₖ − x)/v. The reference of the guidance
/// tests.
public struct GaussianMixture: ScoreFunction, NoiseConditionalClassifier {
    public let means: [[Double]]
    public let weights: [Double]
    public let variance: Double
    public let perturbation: (any Perturbation)?

    public init(means: [[Double]], weights: [Double], variance: Double, perturbation: (any Perturbation)?) {
        precondition(means.count == weights.count && means.count >= 2 && variance > 0)
        self.means = means
        self.weights = weights.map { $0 / weights.reduce(0, +) }
        self.variance = variance
        self.perturbation = perturbation
    }

    public var classes: Int { means.count }

    func marginal(_ t: Double) -> (m: Double, v: Double) {
        let m = perturbation?.meanCoefficient(t) ?? 1, s = perturbation?.std(t) ?? 0
        return (m, m * m * variance + s * s)
    }

    /// Component k's score at time t, in closed form.
    public func component(_ k: Int) -> GaussianScore {
        GaussianScore(mean: means[k], variances: [Double](repeating: variance, count: means[k].count), perturbation: perturbation)
    }

    /// log πₖ + log N(x; mμₖ, vI) up to a constant shared by the components, with taped operations.
    public func logits(_ x: Var, t: [Double]) -> Var {
        let n = x.shape[0], d = x.shape[1], k = classes
        var centres = [Float](repeating: 0, count: n * k * d), inverse = [Float](repeating: 0, count: n * k), prior = [Float](repeating: 0, count: n * k)
        for r in 0..<n {
            let (m, v) = marginal(t[r])
            for c in 0..<k {
                for j in 0..<d { centres[(r * k + c) * d + j] = Float(m * means[c][j]) }
                inverse[r * k + c] = Float(-0.5 / v)
                prior[r * k + c] = Float(Foundation.log(weights[c]))
            }
        }
        let diff = x.reshaped([n, 1, d]) - x.tape.constant(Tensor(shape: [n, k, d], scalars: centres))
        let q = diff.squared().sum(to: [n, k, 1]).reshaped([n, k])
        return q * x.tape.constant(Tensor(shape: [n, k], scalars: inverse)) + x.tape.constant(Tensor(shape: [n, k], scalars: prior))
    }

    public func score(_ x: Var, t: [Double]) -> Var {
        let n = x.shape[0], d = x.shape[1], k = classes
        let p = probabilities(x.value, t: t)
        var out = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let (m, v) = marginal(t[r])
            for c in 0..<k {
                let w = Double(p.scalars[r * k + c])
                for j in 0..<d { out[r * d + j] += Float(w * (m * means[c][j] - Double(x.value.scalars[r * d + j])) / v) }
            }
        }
        return x.tape.constant(Tensor(shape: [n, d], scalars: out))
    }
}

import Foundation
