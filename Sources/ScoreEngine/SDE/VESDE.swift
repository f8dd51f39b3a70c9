import Foundation

/// The variance-exploding SDE (Song et al. 2021, eq. 30): dx = √(d[σ²(t)]/dt) dw with the geometric
/// σ(t) = σ_min (σ_max/σ_min)ᵗ, so g(t) = σ(t)·√(2 log(σ_max/σ_min)), f = 0, m(t) = 1 and, starting from
/// σ(0) = σ_min, the exact perturbation std is √(σ(t)² − σ_min²). The prior is N(0, (σ_max² − σ_min²) I).
public struct VESDE: SDE, Equatable {
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
    public var name: String { "ve" }
    public var parameters: ParameterValues {
        ParameterValues(["sigma_min": .number(sigmaMin), "sigma_max": .number(sigmaMax)])
    }
}

extension VESDE {
    /// σ_min of the VE SDE and of the NCSN ladder.
    public static let sigmaMinParameter = Parameter(
        "sigma_min", .number(.above(0, upTo: 1e6)), default: .value(0.01), help: "smallest noise scale σ_min")
    /// σ_max of the VE SDE and of the NCSN ladder.
    public static let sigmaMaxParameter = Parameter(
        "sigma_max", .number(.above(0, upTo: 1e6)),
        default: .byKind(points: .none("from the data: the larger of the largest distance between two points and 10× the largest coordinate standard deviation"),
                         images: .value(22)),
        help: "largest noise scale σ_max (above sigma_min)")

    /// Checks σ_min < σ_max when both are set.
    public static func checkSigmas(_ v: ParameterValues) throws {
        if let hi = v.optionalDouble("sigma_max"), hi <= v.double("sigma_min") {
            throw InvalidParameter("sigma_max", "must be above sigma_min (\(JSONValue.format(v.double("sigma_min"))))")
        }
    }

    /// σ_max as set, else resolved from the data (`resolvedSigmaMax`).
    public static func sigmaMax(_ v: ParameterValues, data: Tensor?) -> Double {
        if let s = v.optionalDouble("sigma_max") { return s }
        guard let data else { preconditionFailure("sigma_max is unset and there is no data to resolve it from") }
        return resolvedSigmaMax(data, sigmaMin: v.double("sigma_min"))
    }

    public static let entry = SDEEntry(
        name: "ve", summary: "variance exploding: dx = √(d[σ²(t)]/dt) dw, σ(t) = σ_min (σ_max/σ_min)ᵗ",
        parameters: [sigmaMinParameter, sigmaMaxParameter], check: checkSigmas,
        make: { v, data in VESDE(sigmaMin: v.double("sigma_min"), sigmaMax: sigmaMax(v, data: data)) })
}

/// σ_max from the data: the larger of the largest distance between two data points (Song & Ermon 2020,
/// technique 1, so that Langevin chains can move between modes; estimated on up to 2000 points) and 10× the
/// data's largest per-coordinate standard deviation (so that the VE prior N(0, σ_max²I) has the variance of p_T
/// within about 1%: the probability-flow ODE carries any prior mismatch deterministically into its samples).
/// At least 2·σ_min.
public func resolvedSigmaMax(_ data: Tensor, sigmaMin: Double) -> Double {
    max(data.maxPairwiseDistance(sample: 2000), 10 * data.maxCoordinateStd, 2 * sigmaMin)
}
