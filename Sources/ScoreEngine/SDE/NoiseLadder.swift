import Foundation

/// The NCSN noise ladder (Song & Ermon 2019): σ₁ > σ₂ > … > σ_L, a geometric sequence from σ_max to σ_min.
/// Level i sits at "time" tᵢ = (L − i)/(L − 1) so that σ(tᵢ) = σ_min (σ_max/σ_min)^{tᵢ} = σᵢ: the same
/// conditioning input as the VE SDE. Data are perturbed as x + σᵢ z (m = 1, std = σᵢ).
public struct NoiseLadder: Perturbation, Equatable {
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var levels: Int

    public init(sigmaMin: Double = 0.01, sigmaMax: Double = 1, levels: Int = 10) {
        precondition(sigmaMin > 0 && sigmaMax > sigmaMin && levels >= 2, "ladder needs 0 < σ_min < σ_max, L ≥ 2")
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.levels = levels
    }

    /// tᵢ for i = 1…L (1-based, as in the paper).
    public func time(level i: Int) -> Double { Double(levels - i) / Double(levels - 1) }
    /// σᵢ.
    public func sigma(level i: Int) -> Double { std(time(level: i)) }
    public var sigmas: [Double] { (1...levels).map { sigma(level: $0) } }

    public func meanCoefficient(_ t: Double) -> Double { 1 }
    public func std(_ t: Double) -> Double { sigmaMin * Foundation.pow(sigmaMax / sigmaMin, t) }
}
