import ScoreEngine
import Testing

/// Convolutions, transposed convolutions, GroupNorm and pooling against their definitions, finite
/// differences (first and second order) and the PyTorch ScoreNet fixture.
@Suite struct ConvolutionTests {
    var rng = Philox(seed: 77)
    mutating func g(_ shape: [Int]) -> Tensor { rng.gaussian(shape) }

    /// conv by its definition: y[b, o, oy, ox] = Σ_{c,i,j} w[o, c, i, j]·x[b, c, oy·s − p + i, ox·s − p + j].
    static func direct(_ x: Tensor, _ w: Tensor, _ geo: ConvGeometry) -> Tensor {
        let n = x.shape[0], c = geo.inChannels, k = geo.kernel
        var y = Tensor.zeros([n, geo.outChannels, geo.outH, geo.outW])
        for b in 0..<n { for o in 0..<geo.outChannels { for oy in 0..<geo.outH { for ox in 0..<geo.outW {
            var s: Float = 0
            for ci in 0..<c { for i in 0..<k { for j in 0..<k {
                let iy = oy * geo.stride - geo.padding + i, ix = ox * geo.stride - geo.padding + j
                guard iy >= 0, iy < geo.inH, ix >= 0, ix < geo.inW else { continue }
                s += w.scalars[((o * c + ci) * k + i) * k + j] * x.scalars[((b * c + ci) * geo.inH + iy) * geo.inW + ix]
            } } }
            y.scalars[((b * geo.outChannels + o) * geo.outH + oy) * geo.outW + ox] = s
        } } } }
        return y
    }

    static let geometries: [(n: Int, g: ConvGeometry)] = [
        (2, ConvGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 0, inH: 6, inW: 5)),
        (3, ConvGeometry(inChannels: 2, outChannels: 5, kernel: 3, stride: 2, padding: 0, inH: 7, inW: 8)),
        (1, ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, inH: 6, inW: 6)),
        (2, ConvGeometry(inChannels: 4, outChannels: 2, kernel: 1, stride: 1, padding: 0, inH: 3, inW: 4)),
        (2, ConvGeometry(inChannels: 1, outChannels: 2, kernel: 2, stride: 3, padding: 2, inH: 5, inW: 7)),
        // Output planes of 64 entries and more, which the products take image by image.
        (2, ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 1, inH: 9, inW: 8)),
        (3, ConvGeometry(inChannels: 2, outChannels: 2, kernel: 3, stride: 2, padding: 0, inH: 17, inW: 17)),
        // One image, short rows without padding.
        (1, ConvGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 0, inH: 7, inW: 7)),
        // Stride 2 without padding on rows of 8 outputs and more, whose planes im2col splits into even and odd
        // columns: an even width (the whole plane split at once) and a 4×4 kernel; the 17×17 case above has an
        // odd width (split row by row).
        (2, ConvGeometry(inChannels: 3, outChannels: 2, kernel: 4, stride: 2, padding: 0, inH: 9, inW: 20)),
    ]

    @Test mutating func convolutionMatchesItsDefinitionAndItsAdjoints() {
        for (n, geo) in Self.geometries {
            let x = g([n, geo.inChannels, geo.inH, geo.inW]), w = g(geo.weightShape)
            let y = g([n, geo.outChannels, geo.outH, geo.outW])
            let c = Tensor.conv(x, w, geo)
            #expect(c.maxAbsDifference(Self.direct(x, w, geo)) < 1e-4, "\(geo)")
            // ⟨conv(x, w), y⟩ = ⟨x, convᵀ(y, w)⟩ = ⟨w, convWeight(x, y)⟩.
            let a = (c * y).sum(), b = (x * Tensor.convAdjoint(y, w, geo)).sum(), d = (w * Tensor.convWeight(x, y, geo)).sum()
            #expect(abs(a - b) < 1e-3 * max(1, abs(a)) && abs(a - d) < 1e-3 * max(1, abs(a)), "\(geo): \(a) \(b) \(d)")
        }
    }

    @Test mutating func convolutionGradientsFirstAndSecondOrder() {
        for (n, geo) in Self.geometries {
            let x = g([n, geo.inChannels, geo.inH, geo.inW]), w = g(geo.weightShape) * 0.5
            let y = g([n, geo.outChannels, geo.outH, geo.outW])
            // Nonlinear around the bilinear maps, so second derivatives are not trivially zero.
            GradCheck.first([x, w]) { v in v[0].conv(v[1], geo).apply(.tanh).sum() }
            GradCheck.first([y, w]) { v in v[0].convAdjoint(v[1], geo).apply(.tanh).sum() }
            GradCheck.first([x, y]) { v in v[0].convWeight(v[1], geo).apply(.tanh).sum() }
            // One operand a constant (training's first layer takes data; likelihoods take constant weights): the
            // backward kernels compute only the gradient asked for.
            GradCheck.first([w]) { v in v[0].tape.constant(x).conv(v[0], geo).apply(.tanh).sum() }
            GradCheck.first([x]) { v in v[0].conv(v[0].tape.constant(w), geo).apply(.tanh).sum() }
            GradCheck.first([w]) { v in v[0].tape.constant(y).convAdjoint(v[0], geo).apply(.tanh).sum() }
            GradCheck.first([y]) { v in v[0].convAdjoint(v[0].tape.constant(w), geo).apply(.tanh).sum() }
            GradCheck.second([x, w]) { v in v[0].conv(v[1], geo).apply(.tanh).sum() }
            GradCheck.second([w, x]) { v in v[1].conv(v[0], geo).apply(.tanh).sum() }
            GradCheck.second([y, w]) { v in v[0].convAdjoint(v[1], geo).apply(.tanh).sum() }
            GradCheck.second([x, y]) { v in v[0].convWeight(v[1], geo).apply(.tanh).sum() }
        }
    }

    @Test mutating func layersGroupNormAndPooling() {
        var params = ParameterSet()
        var r = Philox(seed: 3)
        let conv = Conv2d("c", 2, 4, kernel: 3, stride: 2, padding: 1, in: &params, rng: &r)
        let tconv = ConvTranspose2d("t", 4, 3, kernel: 3, stride: 2, outputPadding: 1, in: &params, rng: &r)
        let norm = GroupNorm("n", groups: 2, channels: 4, in: &params)
        #expect(params["c.weight"]?.shape == [4, 2, 3, 3] && params["t.weight"]?.shape == [4, 3, 3, 3])
        // GroupNorm's affine parameters perturbed so that they matter.
        params.tensors[params.names.firstIndex(of: "n.weight")!] = g([4]) + 1
        params.tensors[params.names.firstIndex(of: "n.bias")!] = g([4])
        let x = g([2, 2, 6, 6])
        let p0 = params.tensors
        func net(_ v: [Var]) -> Var {
            let p = Array(v.dropFirst())
            let o = tconv(norm(conv(v[0], p), p).apply(.silu), p)  // 6 → 3 → 8
            return (o.averagePooled(2) * o.averagePooled(2)).sum()
        }
        let shapeTape = Tape()
        let h = conv(shapeTape.constant(x), params.bind(to: shapeTape, training: false))
        #expect(h.shape == [2, 4, 3, 3])
        #expect(tconv(h, params.bind(to: shapeTape, training: false)).shape == [2, 3, 8, 8])
        GradCheck.first([x] + p0, net)
        GradCheck.second([x] + p0, tolerance: 5e-3, net)
        // GroupNorm by its definition: per example and group, zero mean and unit (biased) variance.
        let t = Tape()
        var plain = ParameterSet()
        let gn = GroupNorm("g", groups: 2, channels: 4, epsilon: 0, in: &plain)
        let out = gn(t.constant(g([2, 4, 3, 3]) * 3 + 1), plain.bind(to: t, training: false)).value
        for b in 0..<2 { for grp in 0..<2 {
            let vals = Array(out.scalars[(b * 4 + grp * 2) * 9 ..< (b * 4 + grp * 2 + 2) * 9])
            let m = vals.reduce(0, +) / Float(vals.count)
            let v = vals.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(vals.count)
            #expect(abs(m) < 1e-5 && abs(v - 1) < 1e-4)
        } }
        // Average pooling drops the rows and columns beyond the last whole window.
        let img = Tensor(shape: [1, 1, 3, 5], scalars: (0..<15).map(Float.init))
        #expect(Tape().constant(img).averagePooled(2).value.scalars == [3, 5])
    }

    /// The fused block silu(GroupNorm(x + shift)) against the taped composition it replaces: values and
    /// first-order gradients (the fused backward kernel) to float rounding, on planes and groups that fill
    /// whole vectors (a group of 16 entries), leave a tail, or are shorter than one (26×26, 9×9, 5×5, 2×2, 1×1), with one, several and one-channel groups;
    /// then finite differences, first order and second (the second goes through the taped form of the
    /// gradients, whose finite differences go through the fused kernel).
    @Test mutating func fusedGroupNormSiLUMatchesTheComposition() {
        // Planes of 64 entries and more are taken a channel at a time, shorter ones a group at a time. The last
        // two cases' entries lie far from zero against their spread (mean 40, standard deviation 2), one per way.
        let cases: [(shape: [Int], groups: Int, mean: Float)] = [([2, 8, 26, 26], 4, 0.5), ([3, 6, 5, 5], 2, 0.5),
                                                                  ([2, 4, 2, 2], 4, 0.5), ([2, 3, 1, 1], 1, 0.5),
                                                                  ([1, 4, 7], 2, 0.5), ([2, 8, 5, 5], 2, 40),
                                                                  ([1, 4, 9, 9], 2, 40), ([2, 8, 2, 2], 2, 0.5)]
        for (shape, groups, mean) in cases {
            let n = shape[0], c = shape[1]
            var params = ParameterSet()
            let norm = GroupNorm("n", groups: groups, channels: c, in: &params)
            let x = g(shape) * 2 + mean, shift = g([n, c]), weight = g([c]) + 1, bias = g([c]) * 0.5
            var broadcast = [Int](repeating: 1, count: shape.count)
            broadcast[0] = n; broadcast[1] = c
            func composite(_ v: [Var]) -> Var {
                norm(v[0] + v[1].reshaped(broadcast), [v[2], v[3]]).apply(.silu)
            }
            func fused(_ v: [Var]) -> Var { norm.silu(v[0], shift: v[1], [v[2], v[3]]) }
            let dz = g(shape)
            var results: [[Tensor]] = []
            for f in [composite, fused] {
                let tape = Tape()
                let vars = [x, shift, weight, bias].map { tape.variable($0) }
                let z = f(vars)
                results.append([z.value] + tape.gradients(of: (z * dz).sum(), wrt: vars).map(\.value))
            }
            // The kernel alone, taking the statistics again instead of the forward pass's.
            let direct = Tensor.groupNormSiLUGradients(x, shift: shift, weight: weight, bias: bias, groups: groups,
                                                       epsilon: norm.epsilon, dz)
            results.append([results[1][0], direct.x, direct.shift, direct.weight, direct.bias])
            for (k, what) in ["value", "∂x", "∂shift", "∂weight", "∂bias"].enumerated() {
                expectRelClose(results[1][k], results[0][k], rtol: 2e-5, atol: 1e-5, "\(shape) \(what)")
                expectRelClose(results[2][k], results[0][k], rtol: 2e-5, atol: 1e-5, "\(shape) \(what), statistics again")
            }
            if shape[0] * shape[1] * shape.dropFirst(2).reduce(1, *) <= 100 {
                GradCheck.first([x, shift, weight, bias]) { v in (fused(v) * dz).sum() }
                GradCheck.second([x, shift, weight, bias], tolerance: 5e-3) { v in (fused(v) * dz).sum() }
                GradCheck.second([weight, shift, x, bias], tolerance: 5e-3) { v in (fused([v[2], v[1], v[0], v[3]]) * dz).sum() }
            }
        }
    }

    /// The transposed convolution of channel parts (a skip connection's concatenation, never formed) against the
    /// same convolution of their concatenation: values and first-order gradients (the kernels) image by image
    /// and as a batch, then finite differences of first and second order (the second through the taped form).
    @Test mutating func transposedConvolutionOfPartsMatchesTheConcatenation() {
        let cases: [(n: Int, channels: [Int], g: ConvGeometry)] = [
            // 5×5 inputs: taken as a batch.
            (2, [3, 2], .transposed(inChannels: 5, outChannels: 2, kernel: 3, stride: 2, outputPadding: 1, inH: 5, inW: 5)),
            // 8×8 inputs (64 entries): image by image; three parts copied into one block per image (27 patch
            // rows against 5 channels), and two parts with a product each (9 patch rows against 12 channels).
            (3, [2, 1, 2], .transposed(inChannels: 5, outChannels: 3, kernel: 3, inH: 8, inW: 8)),
            (2, [8, 4], .transposed(inChannels: 12, outChannels: 1, kernel: 3, inH: 8, inW: 8)),
            // One image: image by image.
            (1, [2, 2], .transposed(inChannels: 4, outChannels: 1, kernel: 3, stride: 2, inH: 3, inW: 3)),
        ]
        for (n, channels, geo) in cases {
            let parts = channels.map { g([n, $0, geo.outH, geo.outW]) }, w = g(geo.weightShape)
            let dz = g([n, geo.inChannels, geo.inH, geo.inW])
            var results: [[Tensor]] = []
            for fused in [false, true] {
                let tape = Tape()
                let vars = (parts + [w]).map { tape.variable($0) }
                let ps = Array(vars.dropLast()), wv = vars.last!
                let y = fused ? Var.convAdjoint(concatenating: ps, wv, geo) : Var.concatenate(ps, axis: 1).convAdjoint(wv, geo)
                results.append([y.value] + tape.gradients(of: (y * dz).sum(), wrt: vars).map(\.value))
            }
            for k in results[0].indices {
                expectRelClose(results[1][k], results[0][k], rtol: 1e-5, atol: 1e-5, "\(geo) \(k == 0 ? "value" : "gradient \(k)")")
            }
            func f(_ v: [Var]) -> Var { Var.convAdjoint(concatenating: Array(v.dropLast()), v.last!, geo).apply(.tanh).sum() }
            GradCheck.first(parts + [w], f)
            GradCheck.second(parts + [w], tolerance: 5e-3, f)
            GradCheck.second([w] + parts, tolerance: 5e-3) { v in f(Array(v.dropFirst()) + [v[0]]) }
        }
    }

    /// The notebook's ScoreNet with the fixture's weights reproduces PyTorch's output to 1e-4 relative.
    @Test func scoreNetMatchesPyTorch() throws {
        let f = try Fixtures.load("scorenet_mnist")
        var model = ScoreModel(architecture: .unet(.init()), schedule: .sde(VESDE(sigmaMin: 0.01, sigmaMax: 22)), seed: 0)
        try model.parameters.load(from: f.tensors)
        #expect(Set(model.parameters.names) == Set(f.tensors.keys.filter { !$0.hasPrefix("input.") && !$0.hasPrefix("output.") }))
        let x = f["input.x"]!, t = f["input.t"]!
        let s = model.score(Tape(recording: false).constant(x), t: t.scalars.map(Double.init)).value
        expectRelClose(s, f["output.score"]!, rtol: 1e-4, "score")
    }
}
