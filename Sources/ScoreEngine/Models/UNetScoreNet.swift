/// The time-dependent U-Net of the score SDE tutorial notebook (`ScoreNet`), for C×H×W images:
///
///     e  = swish(γ(t))                                   γ: Gaussian Fourier features (embed.W), embedDim
///     h1 = swish(gnorm1(conv1(x) + dense1(e)))           3×3, stride 1, no padding      (28 → 26)
///     h2 = swish(gnorm2(conv2(h1) + dense2(e)))          3×3, stride 2                  (26 → 12)
///     h3 = swish(gnorm3(conv3(h2) + dense3(e)))                                          (12 → 5)
///     h4 = swish(gnorm4(conv4(h3) + dense4(e)))                                          (5 → 2)
///     h  = swish(tgnorm4(tconv4(h4) + dense5(e)))        transposed 3×3, stride 2       (2 → 5)
///     h  = swish(tgnorm3(tconv3([h, h3]) + dense6(e)))   skip connections by concatenation (5 → 12)
///     h  = swish(tgnorm2(tconv2([h, h2]) + dense7(e)))                                   (12 → 26)
///     out = tconv1([h, h1])                              transposed 3×3, stride 1, bias  (26 → 28)
///
/// `ScoreModel` divides the output by the perturbation's marginal std. Parameter names and layouts are the
/// notebook's `state_dict` (conv1.weight, dense1.dense.weight, gnorm1.weight, tconv1.bias, embed.W, …).
/// The first GroupNorm has 4 groups and the others 32, as there (fewer when a width is not divisible); the
/// transposed convolutions' output padding is chosen so each level meets its skip connection's size.
public struct UNetScoreNet: ScoreNetwork {
    public struct Config: Sendable, Equatable {
        /// Image shape [C, H, W]; H and W at least 17 (four levels of 3×3 convolutions, three of stride 2).
        public var imageShape: [Int]
        /// Widths of the four levels.
        public var channels: [Int]
        /// Size of the time embedding γ(t).
        public var embedDim: Int
        public var fourierScale: Float
        /// σ_d for `ScoreModel`'s input preconditioning (nil: none, as in the notebook).
        public var dataScale: Double?

        public init(imageShape: [Int] = [1, 28, 28], channels: [Int] = [32, 64, 128, 256], embedDim: Int = 256,
                    fourierScale: Float = 8, dataScale: Double? = nil) {
            self.imageShape = imageShape
            self.channels = channels
            self.embedDim = embedDim
            self.fourierScale = fourierScale
            self.dataScale = dataScale
        }

        /// Why this configuration cannot be built, if it cannot.
        public var problem: String? {
            if imageShape.count != 3 || imageShape.contains(where: { $0 < 1 }) { return "image shape must be [C, H, W]" }
            if imageShape[1] < 17 || imageShape[2] < 17 { return "images must be at least 17×17 for the four-level U-Net" }
            if channels.count != 4 || channels.contains(where: { $0 < 1 }) { return "channels must list four positive widths" }
            if embedDim < 2 || embedDim % 2 != 0 { return "the embedding size must be a positive even number" }
            if UNetScoreNet.outputPaddings(imageShape[1]) != UNetScoreNet.outputPaddings(imageShape[2]) {
                return "a \(imageShape[1])×\(imageShape[2]) image needs different output paddings along its height and width; the U-Net takes square images, or sizes whose paddings agree"
            }
            return nil
        }
    }

    /// The output paddings of the three upsampling levels for a side of `s` pixels: the spatial sizes of the four
    /// levels (a 3×3 convolution of stride 1, then three of stride 2) give back `s` through the transposed ones.
    static func outputPaddings(_ s: Int) -> [Int] {
        func next(_ s: Int, _ stride: Int) -> Int { (s - 3) / stride + 1 }
        let a = next(s, 1), b = next(a, 2), c = next(b, 2), levels = [a, b, c, next(c, 2)]
        func pad(_ level: Int) -> Int { levels[level - 1] - ((levels[level] - 1) * 2 + 3) }
        return [pad(3), pad(2), pad(1)]
    }

    public let config: Config
    let embed: GaussianFourierProjection
    let down: [Conv2d]
    let up: [ConvTranspose2d]
    let dense: [Linear]
    let norms: [GroupNorm]
    let output: ConvTranspose2d

    public var isTimeConditioned: Bool { true }

    public init(_ config: Config, parameters p: inout ParameterSet, rng: inout Philox) {
        precondition(config.problem == nil, config.problem ?? "")
        self.config = config
        let ch = config.channels, ed = config.embedDim, cIn = config.imageShape[0]
        let paddings = UNetScoreNet.outputPaddings(config.imageShape[1])
        embed = GaussianFourierProjection("embed.W", features: ed, scale: config.fourierScale, in: &p, rng: &rng)
        var down: [Conv2d] = [], dense: [Linear] = [], norms: [GroupNorm] = []
        let widthsIn = [cIn] + Array(ch.prefix(3))
        for i in 0..<4 {
            down.append(Conv2d("conv\(i + 1)", widthsIn[i], ch[i], kernel: 3, stride: i == 0 ? 1 : 2, bias: false, in: &p, rng: &rng))
            dense.append(Linear("dense\(i + 1).dense", ed, ch[i], in: &p, rng: &rng))
            norms.append(GroupNorm("gnorm\(i + 1)", groups: GroupNorm.groups(for: ch[i], preferred: i == 0 ? 4 : 32),
                                   channels: ch[i], in: &p))
        }
        var up: [ConvTranspose2d] = []
        for (k, level) in [4, 3, 2].enumerated() {
            let inW = level == 4 ? ch[3] : 2 * ch[level - 1], outW = ch[level - 2]
            up.append(ConvTranspose2d("tconv\(level)", inW, outW, kernel: 3, stride: 2, outputPadding: paddings[k],
                                      bias: false, in: &p, rng: &rng))
            dense.append(Linear("dense\(k + 5).dense", ed, outW, in: &p, rng: &rng))
            norms.append(GroupNorm("tgnorm\(level)", groups: GroupNorm.groups(for: outW, preferred: 32), channels: outW, in: &p))
        }
        output = ConvTranspose2d("tconv1", 2 * ch[0], cIn, kernel: 3, in: &p, rng: &rng)
        self.down = down
        self.up = up
        self.dense = dense
        self.norms = norms
    }

    public func callAsFunction(_ x: Var, _ t: Var, _ p: [Var]) -> Var {
        let e = embed(t, p).apply(.silu)
        func block(_ h: Var, _ i: Int) -> Var {
            norms[i].silu(h, shift: dense[i](e, p), p)
        }
        var skips: [Var] = []
        var h = x
        for i in 0..<4 {
            h = block(down[i](h, p), i)
            skips.append(h)
        }
        // The skip connections' concatenations go to the transposed convolutions as parts, never formed.
        for k in 0..<3 {
            h = block(up[k](concatenating: k == 0 ? [h] : [h, skips[3 - k]], p), 4 + k)
        }
        return output(concatenating: [h, skips[0]], p)
    }
}
