import Foundation

/// The built-in two-dimensional data sets, drawn with a seeded generator.
///
/// - `swiss_roll`: scikit-learn's `make_swiss_roll(noise=1.0)`, columns 0 and 2, divided by 10 (the first
///   tutorial): t = 1.5π(1 + 2u), x = (t cos t, t sin t) + N(0, I), / 10.
/// - `donut`: p(x) ∝ exp(−(|x| − 2.6)²/0.033), the Langevin tutorial's target, sampled exactly (radius by
///   rejection from N(2.6, 0.033/2) with acceptance r/r_max, angle uniform).
/// - `moons`, `8gaussians`, `checkerboard`, `pinwheel`, `rings`: the FFJORD toy sets (Grathwohl et al. 2019).
public enum Toy2D: String, CaseIterable, Sendable, Codable {
    case swissRoll = "swiss_roll"
    case donut
    case moons
    case eightGaussians = "8gaussians"
    case checkerboard
    case pinwheel
    case rings

    /// The donut's log-density up to a constant, log p(x) = −(|x| − 2.6)²/0.033, on a tape.
    public static func donutLogDensity(_ x: Var) -> Var {
        let r = (x.squared().sum(to: [x.shape[0], 1]) + 1e-12).sqrt()
        return ((r - 2.6).squared() * (-1 / 0.033)).reshaped([x.shape[0]])
    }

    /// The number of classes of the sets whose points come from labelled parts (the moon, the component, the
    /// pinwheel's arm, the ring); nil for the others.
    public var classes: Int? {
        switch self {
        case .moons: return 2
        case .eightGaussians: return 8
        case .pinwheel: return 5
        case .rings: return 4
        case .swissRoll, .donut, .checkerboard: return nil
        }
    }

    public func sample(_ n: Int, rng: inout Philox) -> Tensor { sampleLabelled(n, rng: &rng).points }

    /// n points and the part each came from (all 0 for sets without classes); the same points as `sample`.
    public func sampleLabelled(_ n: Int, rng: inout Philox) -> (points: Tensor, labels: [Int]) {
        var labels = [Int](repeating: 0, count: n)
        var out = [Float]()
        out.reserveCapacity(2 * n)
        func g() -> Double { Double(rng.gaussian()) }
        func u() -> Double { Double(rng.uniform()) }
        for i in 0..<n {
            let p: (Double, Double)
            switch self {
            case .swissRoll:
                let t = 1.5 * Double.pi * (1 + 2 * u())
                p = ((t * cos(t) + g()) / 10, (t * sin(t) + g()) / 10)
            case .donut:
                let s = (0.033 / 2).squareRoot(), rMax = 2.6 + 8 * s
                var r = 0.0
                repeat { r = 2.6 + s * g() } while r <= 0 || u() * rMax >= r
                let a = 2 * Double.pi * u()
                p = (r * cos(a), r * sin(a))
            case .moons:
                let a = Double.pi * u()
                let base = i % 2 == 0 ? (cos(a), sin(a)) : (1 - cos(a), 1 - sin(a) - 0.5)
                labels[i] = i % 2
                p = ((base.0 + 0.1 * g()) * 2 - 1, (base.1 + 0.1 * g()) * 2 - 0.2)
            case .eightGaussians:
                labels[i] = rng.index(below: 8)
                let k = Double(labels[i]) * Double.pi / 4
                let c = (4 * cos(k), 4 * sin(k))
                p = ((c.0 + 0.5 * g()) / 1.414, (c.1 + 0.5 * g()) / 1.414)
            case .checkerboard:
                let x1 = 4 * u() - 2
                let x2 = u() - 2 * Double(rng.index(below: 2)) + Double((Int(floor(x1)) % 2 + 2) % 2)
                p = (2 * x1, 2 * x2)
            case .pinwheel:
                labels[i] = rng.index(below: 5)
                let cls = Double(labels[i])
                let f0 = 1 + 0.3 * g(), f1 = 0.1 * g()
                let angle = cls * 2 * Double.pi / 5 + 0.25 * exp(f0)
                p = (2 * (f0 * cos(angle) - f1 * sin(angle)), 2 * (f0 * sin(angle) + f1 * cos(angle)))
            case .rings:
                labels[i] = rng.index(below: 4)
                let radius = 3 * [1.0, 0.75, 0.5, 0.25][labels[i]]
                let a = 2 * Double.pi * u()
                p = (radius * cos(a) + 0.08 * g(), radius * sin(a) + 0.08 * g())
            }
            out.append(Float(p.0))
            out.append(Float(p.1))
        }
        return (Tensor(shape: [n, 2], scalars: out), labels)
    }
}
