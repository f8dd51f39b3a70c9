import Foundation

/// The variance-exploding SDE (Song et al. 2021, eq. 30): dx = √(d[σ²(t)]/dt) dw with the geometric
/// σ(t) = σ_min (σ_max/σ_min)ᵗ, so g(t) = σ(t)·√(2 log(σ_max/σ_min)), f = 0, m(t) = 1 and, starting from
/// σ(0) = σ_min, the exact perturbation std is √(σ(t)² − σ_min²). The prior is N(0, (σ_max² − σ_min²) I).
public struct VESDE: SDE, Codable, Equatable {
    public var sigmaMin: Double
    public var sigmaMax: Double
    public var T: Double { 1 }

    public init(sigmaMin: Double = 0.01, sigmaMax: Double = 50) {
        precondition(sigmaMin > 0 && sigmaMax > sigmaMin, "VE SDE needs 0 < σ_min < σ_max")
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
    }

    /// σ(t) = σ_min (σ_max/σ_min)ᵗ.
    public func sigma(_ t: Double) -> Double { sigmaMin * Foundation.pow(sigmaMax / sigmaMin, t) }
    public func driftCoefficient(_ t: Double) -> Double { 0 }
    public func diffusion(_ t: Double) -> Double { sigma(t) * (2 * Foundation.log(sigmaMax / sigmaMin)).squareRoot() }
    public func meanCoefficient(_ t: Double) -> Double { 1 }
    public func std(_ t: Double) -> Double {
        let s = sigma(t)
        return max(s * s - sigmaMin * sigmaMin, 0).squareRoot()
    }
    public var priorStd: Double { std(T) }
}
