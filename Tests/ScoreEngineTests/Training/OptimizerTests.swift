import Foundation
import ScoreEngine
import Testing

/// Adam and the EMA against a double-precision transcription of PyTorch's formulas, with the gradient given
/// whole or as two shard parts, with and without clipping.
@Suite struct OptimizerTests {
    /// Tensors of odd sizes (vector loop and scalar tail), one of them frozen.
    func parameters(_ rng: inout Philox) -> ParameterSet {
        var p = ParameterSet()
        p.add("a", rng.gaussian([61, 67]))
        p.add("frozen", rng.gaussian([5]), trainable: false)
        p.add("b", rng.gaussian([4100]))
        p.add("c", rng.gaussian([3]))
        return p
    }

    struct Reference {
        var p: [[Double]], m: [[Double]], v: [[Double]], e: [[Double]]
        var step = 0

        /// One update; returns the gradient norm (which counts the gradients of frozen tensors too).
        mutating func update(_ g: [[Double]?], frozen: Set<Int> = [], lr: Double, clip: Double, decay: Double) -> Double {
            let norm = g.compactMap { $0 }.flatMap { $0 }.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let scale = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1
            step += 1
            let bc1 = 1 - Foundation.pow(0.9, Double(step)), bc2 = 1 - Foundation.pow(0.999, Double(step))
            for k in p.indices {
                guard let gk = g[k], !frozen.contains(k) else { e[k] = p[k]; continue }
                for i in p[k].indices {
                    let gi = gk[i] * scale
                    m[k][i] = 0.9 * m[k][i] + 0.1 * gi
                    v[k][i] = 0.999 * v[k][i] + 0.001 * gi * gi
                    p[k][i] -= lr * (m[k][i] / bc1) / ((v[k][i] / bc2).squareRoot() + 1e-8)
                    e[k][i] = decay * e[k][i] + (1 - decay) * p[k][i]
                }
            }
            return norm
        }
    }

    @Test(arguments: [Float(0), 0.5])
    func adamAndEMAMatchPyTorchFormulas(clip: Float) {
        var rng = Philox(seed: 3)
        var params = parameters(&rng)
        var ema: EMA? = EMA(decay: 0.9, initial: params)
        var adam = Adam(learningRate: 1e-2, gradClip: clip)
        let d = params.tensors.map { $0.scalars.map(Double.init) }
        var ref = Reference(p: d, m: d.map { $0.map { _ in 0 } }, v: d.map { $0.map { _ in 0 } }, e: d)
        for _ in 0..<5 {
            // Two shard parts; the reference gets their sum, as the update forms it in float. The frozen tensor
            // has a gradient too, which counts in the norm but updates nothing.
            let parts: [[Tensor?]] = (0..<2).map { _ in
                params.tensors.indices.map { rng.gaussian(params.tensors[$0].shape) * 0.05 }
            }
            let sum = params.tensors.indices.map { k in parts[0][k].map { ($0 + parts[1][k]!).scalars.map(Double.init) } }
            let norm = adam.update(&params, shards: parts, ema: &ema)
            let refNorm = ref.update(sum, frozen: [1], lr: 1e-2, clip: Double(clip), decay: 0.9)
            #expect(abs(Double(norm) - refNorm) <= 1e-5 * refNorm)
        }
        for k in params.tensors.indices {
            for (name, ours, theirs) in [("weights", params.tensors[k], ref.p[k]), ("EMA", ema!.shadow.tensors[k], ref.e[k])] {
                let err = zip(ours.scalars, theirs).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(err <= 1e-5, "\(name) of \(params.names[k]): max error \(err)")
            }
        }
    }

    @Test func emaOnItsOwn() {
        var rng = Philox(seed: 6)
        let start = parameters(&rng)
        var moved = start
        for k in moved.tensors.indices { moved.tensors[k] = rng.gaussian(moved.tensors[k].shape) }
        var ema = EMA(decay: 0.9, initial: start)
        ema.update(moved)
        for k in start.tensors.indices {
            let expected = start.trainable[k]
                ? zip(start.tensors[k].scalars, moved.tensors[k].scalars).map { 0.9 * Double($0) + 0.1 * Double($1) }
                : moved.tensors[k].scalars.map(Double.init)
            let err = zip(ema.shadow.tensors[k].scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(err <= 1e-6, "\(start.names[k]): max error \(err)")
        }
    }

    @Test func shardedUpdateEqualsTheWholeOne() {
        var rng = Philox(seed: 4)
        let start = parameters(&rng)
        let parts: [[Tensor?]] = (0..<2).map { _ in
            start.tensors.indices.map { start.trainable[$0] ? rng.gaussian(start.tensors[$0].shape) : nil }
        }
        let whole = start.tensors.indices.map { k in parts[0][k].map { $0 + parts[1][k]! } }
        var a = start, b = start
        var adamA = Adam(learningRate: 1e-3), adamB = Adam(learningRate: 1e-3)
        var emaA: EMA? = EMA(decay: 0.99, initial: start), emaB: EMA? = EMA(decay: 0.99, initial: start)
        for _ in 0..<3 {
            adamA.update(&a, shards: [whole], ema: &emaA)
            adamB.update(&b, shards: parts, ema: &emaB)
        }
        #expect(a == b)
        #expect(emaA!.shadow == emaB!.shadow)
        #expect(adamA.m.map(\.scalars) == adamB.m.map(\.scalars) && adamA.v.map(\.scalars) == adamB.v.map(\.scalars))
        #expect(a.tensors[1] == start.tensors[1], "a frozen tensor is not updated")
    }

    /// Tensors large enough to be updated in two halves on two threads come out as on one thread, with the EMA
    /// and the moments; the norm agrees to rounding (its halves are summed apart).
    @Test func twoThreadsUpdateTheSameWeights() {
        var rng = Philox(seed: 8)
        var start = parameters(&rng)
        start.add("large", rng.gaussian([2 * 131_072 + 13]))
        start.add("larger", rng.gaussian([3, 131_072 + 5]))
        var a = start, b = start
        var adamA = Adam(learningRate: 1e-3), adamB = Adam(learningRate: 1e-3)
        var emaA: EMA? = EMA(decay: 0.99, initial: start), emaB: EMA? = EMA(decay: 0.99, initial: start)
        for _ in 0..<3 {
            let parts: [[Tensor?]] = (0..<2).map { _ in
                start.tensors.indices.map { start.trainable[$0] ? rng.gaussian(start.tensors[$0].shape) : nil }
            }
            let one = adamA.update(&a, shards: parts, ema: &emaA, threads: 1)
            let two = adamB.update(&b, shards: parts, ema: &emaB, threads: 2)
            #expect(abs(one - two) <= 1e-5 * one)
        }
        #expect(a == b)
        #expect(emaA!.shadow == emaB!.shadow)
        #expect(adamA.m.map(\.scalars) == adamB.m.map(\.scalars) && adamA.v.map(\.scalars) == adamB.v.map(\.scalars))
        #expect(a != start)
    }
}
