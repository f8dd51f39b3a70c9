import Foundation

/// The variance-preserving SDE (Song et al. 2021, eq. 32; DDPM's continuous limit):
/// dx = −½β(t)x dt + √β(t) dw with β(t) = β_min + t(β_max − β_min). Then
/// log m(t) = −¼t²(β_max − β_min) − ½tβ_min, σ(t) = √(1 − m(t)²), and the prior is N(0, I).
public struct VPSDE: SDE, Equatable {
    public var betaMin: Double
    public var betaMax: Double
    public var T: Double { 1 }

    public init(betaMin: Double = 0.1, betaMax: Double = 20) {
        precondition(betaMin >= 0 && betaMax > betaMin, "VP SDE needs 0 ≤ β_min < β_max")
        self.betaMin = betaMin
        self.betaMax = betaMax
    }

    public func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }
    public func logMeanCoefficient(_ t: Double) -> Double { -0.25 * t * t * (betaMax - betaMin) - 0.5 * t * betaMin }
    public func driftCoefficient(_ t: Double) -> Double { -0.5 * beta(t) }
    public func diffusion(_ t: Double) -> Double { beta(t).squareRoot() }
    public func meanCoefficient(_ t: Double) -> Double { Foundation.exp(logMeanCoefficient(t)) }
    public func std(_ t: Double) -> Double { (-Foundation.expm1(2 * logMeanCoefficient(t))).squareRoot() }
    public var priorStd: Double { 1 }
    public var name: String { "vp" }
    public var parameters: ParameterValues {
        ParameterValues(["beta_min": .number(betaMin), "beta_max": .number(betaMax)])
    }
}

extension VPSDE {
    /// β_min and β_max of the VP and sub-VP SDEs.
    public static let betaParameters = [
        Parameter("beta_min", .number(.closed(0, 1000)), default: .value(0.1), help: "β(0) of the linear schedule β(t)"),
        Parameter("beta_max", .number(.above(0, upTo: 1000)), default: .value(20), help: "β(1) of the linear schedule β(t) (above beta_min)"),
    ]

    public static func checkBetas(_ v: ParameterValues) throws {
        if v.double("beta_max") <= v.double("beta_min") {
            throw InvalidParameter("beta_max", "must be above beta_min (\(JSONValue.format(v.double("beta_min"))))")
        }
    }

    public static let entry = SDEEntry(
        name: "vp", summary: "variance preserving (DDPM's limit): dx = −½β(t)x dt + √β(t) dw",
        parameters: betaParameters, check: checkBetas,
        make: { v, _ in VPSDE(betaMin: v.double("beta_min"), betaMax: v.double("beta_max")) })
}
