import ScoreEngine
import Testing

/// Finite-difference checks of taped gradients.
///
/// `f` builds a scalar from variables on a fresh tape. The analytic gradient comes from `gradients(of:wrt:)`;
/// the reference is the central difference (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h in float32, whose error is
/// O(h²) truncation plus O(ε/h) rounding: with h = 1e-2 and values of order one, about 1e-4 absolute.
enum GradCheck {
    /// Checks ∂f/∂inputs[k] for every k against central differences.
    static func first(_ inputs: [Tensor], h: Float = 1e-2, tolerance: Float = 2e-3,
                      sourceLocation: SourceLocation = #_sourceLocation,
                      _ f: ([Var]) -> Var) {
        let tape = Tape()
        let vars = inputs.map { tape.variable($0) }
        let y = f(vars)
        let grads = tape.gradients(of: y, wrt: vars).map(\.value)
        for k in inputs.indices {
            let fd = numericGradient(inputs, k, h: h) { t in f(t).value.scalar }
            expectClose(grads[k], fd, tolerance, "input \(k)", sourceLocation)
        }
    }

    /// Checks second derivatives: the gradient of ⟨∂f/∂inputs[0], r⟩ (taken with `createGraph`) with respect
    /// to every input, against central differences of the first-order gradient.
    static func second(_ inputs: [Tensor], h: Float = 1e-2, tolerance: Float = 3e-3, seed: UInt64 = 7,
                       sourceLocation: SourceLocation = #_sourceLocation,
                       _ f: ([Var]) -> Var) {
        var rng = Philox(seed: seed)
        let r = rng.gaussian(inputs[0].shape)
        func projected(_ vars: [Var], create: Bool) -> Var {
            let tape = vars[0].tape
            let y = f(vars)
            let g = tape.gradient(of: y, wrt: vars[0], createGraph: create)
            return (g * r).sum()
        }
        let tape = Tape()
        let vars = inputs.map { tape.variable($0) }
        let z = projected(vars, create: true)
        let grads = tape.gradients(of: z, wrt: vars).map(\.value)
        for (k, _) in inputs.enumerated() {
            let fd = numericGradient(inputs, k, h: h) { t in projected(t, create: false).value.scalar }
            expectClose(grads[k], fd, tolerance, "second order, input \(k)", sourceLocation)
        }
    }

    static func numericGradient(_ inputs: [Tensor], _ k: Int, h: Float, _ f: ([Var]) -> Float) -> Tensor {
        var out = Tensor.zeros(inputs[k].shape)
        for i in 0..<inputs[k].count {
            func at(_ delta: Float) -> Float {
                var xs = inputs
                xs[k].scalars[i] += delta
                let tape = Tape()
                return f(xs.map { tape.variable($0) })
            }
            out.scalars[i] = (at(h) - at(-h)) / (2 * h)
        }
        return out
    }

    static func expectClose(_ a: Tensor, _ b: Tensor, _ tol: Float, _ what: String, _ loc: SourceLocation) {
        #expect(a.shape == b.shape, "\(what): shapes \(a.shape) vs \(b.shape)", sourceLocation: loc)
        guard a.shape == b.shape else { return }
        let scale = max(1, b.scalars.map(abs).max() ?? 1)
        let err = a.maxAbsDifference(b)
        #expect(err <= tol * scale, "\(what): max |analytic − numeric| = \(err) (scale \(scale))\nanalytic \(a)\nnumeric \(b)",
                sourceLocation: loc)
    }
}

/// Relative closeness for conformance checks: max|a − b| ≤ rtol·max|b| (+ atol).
func expectRelClose(_ a: Tensor, _ b: Tensor, rtol: Float, atol: Float = 0, _ what: String = "",
                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "\(what): shapes \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.shape == b.shape else { return }
    let scale = b.scalars.map(abs).max() ?? 0
    let err = a.maxAbsDifference(b)
    #expect(err <= rtol * scale + atol, "\(what): max abs error \(err) vs scale \(scale)", sourceLocation: sourceLocation)
}
