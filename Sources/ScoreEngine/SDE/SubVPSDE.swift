import Foundation

/// The sub-VP SDE (Song et al. 2021, eq. 34): dx = −½β(t)x dt + √(β(t)(1 − e^{−2∫₀ᵗβ})) dw, whose variance
/// stays below the VP one: m(t) as for VP, σ(t) = 1 − m(t)², prior N(0, I).
public struct SubVPSDE: SDE, Equatable {
    public var betaMin: Double
    public var betaMax: Double
    public var T: Double { 1 }

    public init(betaMin: Double = 0.1, betaMax: Double = 20) {
        precondition(betaMin >= 0 && betaMax > betaMin, "sub-VP SDE needs 0 ≤ β_min < β_max")
        self.betaMin = betaMin
        self.betaMax = betaMax
    }

    public func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }
    /// ∫₀ᵗ β(s) ds.
    public func integratedBeta(_ t: Double) -> Double { betaMin * t + 0.5 * t * t * (betaMax - betaMin) }
    public func driftCoefficient(_ t: Double) -> Double { -0.5 * beta(t) }
    public func diffusion(_ t: Double) -> Double {
        (beta(t) * -Foundation.expm1(-2 * integratedBeta(t))).squareRoot()
    }
    public func meanCoefficient(_ t: Double) -> Double { Foundation.exp(-0.5 * integratedBeta(t)) }
    public func std(_ t: Double) -> Double { -Foundation.expm1(-integratedBeta(t)) }
    public var priorStd: Double { 1 }
    public var name: String { "subvp" }
    public var parameters: ParameterValues {
        ParameterValues(["beta_min": .number(betaMin), "beta_max": .number(betaMax)])
    }
}

extension SubVPSDE {
    public static let entry = SDEEntry(
        name: "subvp", summary: "sub-VP: the VP drift with a diffusion that keeps the variance below VP's",
        parameters: VPSDE.betaParameters, check: VPSDE.checkBetas,
        make: { v, _ in SubVPSDE(betaMin: v.double("beta_min"), betaMax: v.double("beta_max")) })
}
