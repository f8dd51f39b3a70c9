import Dispatch
import Foundation
import ScoreEngine

/// Where the U-Net's time goes and how near it runs to the machine's limit:
/// - the floating-point peak: a 2048×2048×2048 single-precision product through OpenBLAS on one and on two
///   threads (GFLOP/s);
/// - the ScoreNet's work: 2·MACs of its convolutions per image forward (the dense layers and pointwise work are
///   under 1%), three times that per training image (forward, and the gradients of inputs and weights);
/// - a training step on one thread split into forward (the tape), backward and Adam;
/// - the forward pass split by layer kind, each layer run alone at its shape in the network (batch 32, one
///   thread): convolutions, transposed convolutions, GroupNorm + SiLU, the time embedding's dense layers.
enum ScoreNetProfile {
    static func gemmGFLOPs(threads: Int) -> Double {
        let n = 2048
        var rng = Philox(seed: 5)
        let a = rng.gaussian([n, n]), b = rng.gaussian([n, n])
        var c = Tensor.zeros([n, n])
        Kernels.setBLASThreads(threads)
        defer { Kernels.setBLASThreads(1) }
        func once() {
            a.scalars.withUnsafeBufferPointer { pa in b.scalars.withUnsafeBufferPointer { pb in c.scalars.withUnsafeMutableBufferPointer { pc in
                Kernels.blasGEMM(transA: false, transB: false, m: n, n: n, k: n, pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
            } } }
        }
        once()
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            once()
            best = min(best, Date().timeIntervalSince(start))
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Multiply–adds of the convolutions of one forward pass of the U-Net on one image.
    static func macs(_ c: UNetScoreNet.Config) -> Double {
        let ch = c.channels, cin = c.imageShape[0]
        func out(_ s: Int, _ stride: Int) -> Int { (s - 3) / stride + 1 }
        let s1 = out(c.imageShape[1], 1), s2 = out(s1, 2), s3 = out(s2, 2), s4 = out(s3, 2)
        let down = Double(s1 * s1 * cin * ch[0] * 9 + s2 * s2 * ch[0] * ch[1] * 9 + s3 * s3 * ch[1] * ch[2] * 9 + s4 * s4 * ch[2] * ch[3] * 9)
        // A transposed convolution costs what its adjoint convolution does: input pixels × in × out × 9.
        let up = Double(s4 * s4 * ch[3] * ch[2] * 9 + s3 * s3 * 2 * ch[2] * ch[1] * 9 + s2 * s2 * 2 * ch[1] * ch[0] * 9 + s1 * s1 * 2 * ch[0] * cin * 9)
        return down + up
    }

    static func time(_ repeats: Int = 10, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            for _ in 0..<repeats { body() }
            best = min(best, Date().timeIntervalSince(start) / Double(repeats))
        }
        return best
    }

    static func run(images: Tensor, model: ScoreModel, trainRate: Double, forwardMillis: Double) {
        guard case .unet(let config) = model.architecture else { return }
        let one = gemmGFLOPs(threads: 1), two = gemmGFLOPs(threads: 2)
        let forwardFLOPs = 2 * macs(config)
        print(String(format: "peak     sgemm 2048³: %.1f GFLOP/s on one thread, %.1f on two", one, two))
        print(String(format: "work     %.1f MFLOP per image forward, %.1f per training image", forwardFLOPs / 1e6, 3 * forwardFLOPs / 1e6))
        print(String(format: "fraction training %.0f%% of the two-thread peak (%.1f GFLOP/s), forward batch 64 %.0f%% (%.1f GFLOP/s)",
                     100 * trainRate * 3 * forwardFLOPs / 1e9 / two, trainRate * 3 * forwardFLOPs / 1e9,
                     100 * 64 * forwardFLOPs / (forwardMillis / 1000) / 1e9 / two, 64 * forwardFLOPs / (forwardMillis / 1000) / 1e9))

        // A training step on one thread, by phase.
        let x = images.rows(0..<32)
        var rng = Philox(seed: 3)
        let t = (0..<32).map { _ in 1e-5 + Double(rng.uniform()) * (1 - 1e-5) }
        let z = rng.gaussian(x.shape)
        let sde = model.schedule.sde!
        let objective = ContinuousDenoisingScoreMatching(sde: sde)
        let tape = Tape()
        var parameters = model.parameters
        var adam = Adam(learningRate: 1e-4)
        var ema: EMA? = nil
        var forward = 0.0, backward = 0.0, update = 0.0
        for k in 0..<12 {
            let s0 = Date()
            tape.reset()
            let p = parameters.bind(to: tape, training: true)
            let loss = objective.loss(score: { model.score($0, t: $1, parameters: p) }, batch: x, t: t, noise: z, tape: tape)
            let s1 = Date()
            let g = tape.gradients(of: loss, wrt: p).map { Optional($0.value) }
            let s2 = Date()
            tape.reset()
            adam.update(&parameters, shards: [g], ema: &ema)
            let s3 = Date()
            if k >= 2 {
                forward += s1.timeIntervalSince(s0); backward += s2.timeIntervalSince(s1); update += s3.timeIntervalSince(s2)
            }
        }
        let total = forward + backward + update
        print(String(format: "step     one thread, batch 32: forward %.0f%%, backward %.0f%%, Adam %.0f%% of %.1f ms",
                     100 * forward / total, 100 * backward / total, 100 * update / total, total / 10 * 1000))
        // The update of two shards' gradients as the trainer makes it for this recipe (no EMA), on one thread and
        // on two.
        let shards: [[Tensor?]] = (0..<2).map { _ in parameters.tensors.map { Optional(rng.gaussian($0.shape)) } }
        let updateTimes = [1, 2].map { threads in
            time(20) { adam.update(&parameters, shards: shards, ema: &ema, threads: threads) } * 1000
        }
        print(String(format: "Adam     update of two shards: %.2f ms on one thread, %.2f ms on two", updateTimes[0], updateTimes[1]))

        // The forward pass by layer kind, each layer alone at its shape (batch 32, one thread).
        var p = ParameterSet()
        var r = Philox(seed: 9)
        let ch = config.channels, ed = config.embedDim
        func out(_ s: Int, _ stride: Int) -> Int { (s - 3) / stride + 1 }
        let s1 = out(28, 1), s2 = out(s1, 2), s3 = out(s2, 2), s4 = out(s3, 2)
        let sizes = [s1, s2, s3, s4]
        let convs = (0..<4).map { i in Conv2d("c\(i)", i == 0 ? 1 : ch[i - 1], ch[i], kernel: 3, stride: i == 0 ? 1 : 2, bias: false, in: &p, rng: &r) }
        let ups = [ConvTranspose2d("u4", ch[3], ch[2], kernel: 3, stride: 2, bias: false, in: &p, rng: &r),
                   ConvTranspose2d("u3", 2 * ch[2], ch[1], kernel: 3, stride: 2, outputPadding: 1, bias: false, in: &p, rng: &r),
                   ConvTranspose2d("u2", 2 * ch[1], ch[0], kernel: 3, stride: 2, outputPadding: 1, bias: false, in: &p, rng: &r),
                   ConvTranspose2d("u1", 2 * ch[0], 1, kernel: 3, in: &p, rng: &r)]
        let norms = (0..<4).map { i in GroupNorm("g\(i)", groups: GroupNorm.groups(for: ch[i], preferred: i == 0 ? 4 : 32), channels: ch[i], in: &p) }
        let dense = (0..<7).map { i in Linear("d\(i)", ed, ch[[0, 1, 2, 3, 2, 1, 0][i]], in: &p, rng: &r) }
        let ft = Tape(recording: false)
        let params = p
        /// Runs `layer` on a fresh tape with the parameters bound (a reset tape forgets its bindings).
        func alone(_ layer: ([Var]) -> Void) -> Double { time { ft.reset(); layer(params.bind(to: ft, training: false)) } }
        let inputs = [[32, 1, 28, 28], [32, ch[0], s1, s1], [32, ch[1], s2, s2], [32, ch[2], s3, s3]].map { r.gaussian($0) }
        let upInputs = [[32, ch[3], s4, s4], [32, 2 * ch[2], s3, s3], [32, 2 * ch[1], s2, s2], [32, 2 * ch[0], s1, s1]].map { r.gaussian($0) }
        let normInputs = (0..<4).map { r.gaussian([32, ch[$0], sizes[$0], sizes[$0]]) }
        let e = r.gaussian([32, ed])
        let shifts = (0..<4).map { r.gaussian([32, ch[$0]]) }
        var kinds: [(String, Double)] = []
        kinds.append(("convolutions", (0..<4).map { i in alone { pv in _ = convs[i](ft.constant(inputs[i]), pv) } }.reduce(0, +)))
        // Below the bottom level a transposed convolution takes the skip connection's two halves as parts.
        kinds.append(("transposed convolutions", (0..<4).map { i in alone { pv in
            let x = upInputs[i], half = x.shape[1] / 2
            let parts = i == 0 ? [x] : [x.slice(axis: 1, 0..<half), x.slice(axis: 1, half..<x.shape[1])]
            _ = ups[i](concatenating: parts.map { ft.constant($0) }, pv)
        } }.reduce(0, +)))
        // silu(GroupNorm(h + dense(e))) at the four levels, twice each (the down and up paths share the widths).
        kinds.append(("GroupNorm + SiLU", 2 * (0..<4).map { i in
            alone { pv in _ = norms[i].silu(ft.constant(normInputs[i]), shift: ft.constant(shifts[i]), pv) }
        }.reduce(0, +)))
        kinds.append(("time embedding (7 dense)", (0..<7).map { i in alone { pv in _ = dense[i](ft.constant(e), pv) } }.reduce(0, +)))
        let sum = kinds.reduce(0) { $0 + $1.1 }
        print("forward  by layer kind (batch 32, one thread, each layer alone): " + kinds.map {
            String(format: "%@ %.1f ms (%.0f%%)", $0.0, $0.1 * 1000, 100 * $0.1 / sum)
        }.joined(separator: ", "))
    }

    /// The ScoreNet's eight convolutions one by one at `batch` images on one thread (best of 5 × 5 runs, ms and
    /// GFLOP/s): the forward operation (im2col or col2im, layout copies and the product), the product alone at
    /// its shape (what the operation would cost without the rest), and the two gradients (the input's and the
    /// weight's).
    static func convolutionLayers(batch nb: Int) {
        Kernels.setBLASThreads(1)
        var r = Philox(seed: 1)
        func millis(_ body: () -> Void) -> Double {
            for _ in 0..<2 { body() }
            var best = Double.infinity
            for _ in 0..<5 {
                let start = Date()
                for _ in 0..<5 { body() }
                best = min(best, Date().timeIntervalSince(start) / 5)
            }
            return best * 1000
        }
        let layers: [(String, ConvGeometry, transposed: Bool)] = [
            ("conv1", ConvGeometry(inChannels: 1, outChannels: 32, kernel: 3, inH: 28, inW: 28), false),
            ("conv2", ConvGeometry(inChannels: 32, outChannels: 64, kernel: 3, stride: 2, inH: 26, inW: 26), false),
            ("conv3", ConvGeometry(inChannels: 64, outChannels: 128, kernel: 3, stride: 2, inH: 12, inW: 12), false),
            ("conv4", ConvGeometry(inChannels: 128, outChannels: 256, kernel: 3, stride: 2, inH: 5, inW: 5), false),
            ("tconv4", .transposed(inChannels: 256, outChannels: 128, kernel: 3, stride: 2, inH: 2, inW: 2), true),
            ("tconv3", .transposed(inChannels: 256, outChannels: 64, kernel: 3, stride: 2, outputPadding: 1, inH: 5, inW: 5), true),
            ("tconv2", .transposed(inChannels: 128, outChannels: 32, kernel: 3, stride: 2, outputPadding: 1, inH: 12, inW: 12), true),
            ("tconv1", .transposed(inChannels: 64, outChannels: 1, kernel: 3, inH: 26, inW: 26), true),
        ]
        print("convolutions, batch \(nb), one thread: ms (GFLOP/s) — forward | its product alone | input gradient | weight gradient")
        for (name, g, transposed) in layers {
            let x = r.gaussian([nb, g.inChannels, g.inH, g.inW]), y = r.gaussian([nb, g.outChannels, g.outH, g.outW])
            let w = r.gaussian(g.weightShape)
            let flops = 2.0 * Double(nb * g.outH * g.outW * g.outChannels * g.inChannels * g.kernel * g.kernel)
            let nl = nb * g.outH * g.outW, patch = g.inChannels * g.kernel * g.kernel
            let a = r.gaussian([g.outChannels, patch]).scalars, b = r.gaussian([transposed ? g.outChannels : patch, nl]).scalars
            var c = [Float](repeating: 0, count: patch * nl + g.outChannels * nl)
            // A transposed convolution is convAdjoint under its geometry: its input gradient is conv, and the
            // product its forward pass takes is [C·k·k, Co]ᵀ·[Co, N·Ho·Wo]. Below the bottom level its input is the
            // skip connection's two halves, as parts (the U-Net's way).
            let parts = !transposed || name == "tconv4" ? [y] : [y.slice(axis: 1, 0..<(g.outChannels / 2)),
                                                               y.slice(axis: 1, (g.outChannels / 2)..<g.outChannels)]
            let forward = transposed ? millis { _ = Tensor.convAdjointKeepingInput(parts: parts, w, g) }
                                     : millis { _ = Tensor.conv(x, w, g) }
            let product = millis {
                c.withUnsafeMutableBufferPointer { pc in
                    Kernels.gemm(transA: transposed, transB: false, m: transposed ? patch : g.outChannels, n: nl,
                                 k: transposed ? g.outChannels : patch, a, b, pc.baseAddress!)
                }
            }
            let input = transposed
                ? millis { _ = Tensor.convAdjointGradients(parts: parts, w: w, dx: x, g, channelMajor: nil, wantY: true, wantW: false) }
                : millis { _ = Tensor.convAdjoint(y, w, g) }
            let weight = transposed
                ? millis { _ = Tensor.convAdjointGradients(parts: parts, w: w, dx: x, g, channelMajor: nil, wantY: false, wantW: true) }
                : millis { _ = Tensor.convWeight(x, y, g) }
            print(name.padding(toLength: 7, withPad: " ", startingAt: 0) + [forward, product, input, weight].map {
                String(format: "%6.3f (%3.0f)", $0, flops / $0 / 1e6)
            }.joined(separator: " | "))
        }
        // The fused silu(GroupNorm(h + shift)) at the four levels' shapes.
        print("silu(GroupNorm(h + shift)), batch \(nb), one thread: ms (ns per entry) — forward | gradients")
        for (c, side, groups) in [(32, 26, 4), (64, 12, 32), (128, 5, 32), (256, 2, 32)] {
            let x = r.gaussian([nb, c, side, side]), shift = r.gaussian([nb, c]), w = r.gaussian([c]), b = r.gaussian([c])
            let forward = millis { _ = Tensor.groupNormSiLU(x, shift: shift, weight: w, bias: b, groups: groups, epsilon: 1e-5) }
            let backward = millis {
                _ = Tensor.groupNormSiLUGradients(x, shift: shift, weight: w, bias: b, groups: groups, epsilon: 1e-5, x)
            }
            print("\(c)×\(side)×\(side)".padding(toLength: 10, withPad: " ", startingAt: 0) + [forward, backward].map {
                String(format: "%6.3f (%.2f)", $0, $0 * 1e6 / Double(x.count))
            }.joined(separator: " | "))
        }
    }
}
