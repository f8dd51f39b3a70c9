/// PyTorch's `nn.Conv2d` on NCHW input: weight [out, in, k, k], optional bias [out]; initialised as PyTorch
/// does, U(−1/√fan_in, 1/√fan_in) with fan_in = in·k·k.
public struct Conv2d: Sendable {
    public let weight: Int
    public let bias: Int?
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int

    public init(_ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, in params: inout ParameterSet, rng: inout Philox) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        (weight, self.bias) = params.addLayer(name, weight: [outChannels, inChannels, kernel, kernel],
                                              fanIn: inChannels * kernel * kernel, bias: bias ? outChannels : nil, rng: &rng)
    }

    public func geometry(inH: Int, inW: Int) -> ConvGeometry {
        ConvGeometry(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                     padding: padding, inH: inH, inW: inW)
    }

    public func callAsFunction(_ x: Var, _ p: [Var]) -> Var {
        precondition(x.shape.count == 4 && x.shape[1] == inChannels, "Conv2d(\(inChannels)→…) on \(x.shape)")
        return x.conv(p[weight], geometry(inH: x.shape[2], inW: x.shape[3])).addingChannelBias(bias.map { p[$0] })
    }
}

/// PyTorch's `nn.ConvTranspose2d` on NCHW input: weight [in, out, k, k], optional bias [out]; the output is
/// (H − 1)·stride − 2·padding + k + outputPadding high (and wide). Initialised as PyTorch does (fan_in from
/// the weight's second axis: out·k·k).
public struct ConvTranspose2d: Sendable {
    public let weight: Int
    public let bias: Int?
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int

    public init(_ name: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, bias: Bool = true, in params: inout ParameterSet, rng: inout Philox) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        (weight, self.bias) = params.addLayer(name, weight: [inChannels, outChannels, kernel, kernel],
                                              fanIn: outChannels * kernel * kernel, bias: bias ? outChannels : nil, rng: &rng)
    }

    public func geometry(inH: Int, inW: Int) -> ConvGeometry {
        .transposed(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
                    outputPadding: outputPadding, inH: inH, inW: inW)
    }

    public func callAsFunction(_ x: Var, _ p: [Var]) -> Var {
        precondition(x.shape.count == 4 && x.shape[1] == inChannels, "ConvTranspose2d(\(inChannels)→…) on \(x.shape)")
        return x.convAdjoint(p[weight], geometry(inH: x.shape[2], inW: x.shape[3])).addingChannelBias(bias.map { p[$0] })
    }

    /// The layer on the concatenation of `parts` along channels (a U-Net's skip connection), without forming it
    /// (`Var.convAdjoint(concatenating:_:_:)`).
    public func callAsFunction(concatenating parts: [Var], _ p: [Var]) -> Var {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.shape.count == 4 }
                     && parts.reduce(0) { $0 + $1.shape[1] } == inChannels,
                     "ConvTranspose2d(\(inChannels)→…) on parts \(parts.map(\.shape))")
        let x = parts[0]
        return Var.convAdjoint(concatenating: parts, p[weight], geometry(inH: x.shape[2], inW: x.shape[3]))
            .addingChannelBias(bias.map { p[$0] })
    }
}

extension Var {
    /// y + b per channel of an NCHW batch (b of shape [C]); y itself without a bias.
    func addingChannelBias(_ b: Var?) -> Var {
        guard let b else { return self }
        return self + b.reshaped([1, b.shape[0], 1, 1])
    }
}

/// PyTorch's `nn.GroupNorm(groups, channels)`: each example's channels split into groups, each group
/// normalised by its own mean and (biased) variance, then scaled and shifted per channel (weight 1, bias 0
/// initially). Written with taped operations, so it is differentiable to any order.
public struct GroupNorm: Sendable {
    public let weight: Int, bias: Int
    public let groups: Int, channels: Int
    public let epsilon: Float

    public init(_ name: String, groups: Int, channels: Int, epsilon: Float = 1e-5, in params: inout ParameterSet) {
        precondition(groups > 0 && channels % groups == 0, "GroupNorm: \(groups) groups do not divide \(channels) channels")
        self.groups = groups
        self.channels = channels
        self.epsilon = epsilon
        weight = params.add("\(name).weight", .ones([channels]))
        bias = params.add("\(name).bias", .zeros([channels]))
    }

    public func callAsFunction(_ x: Var, _ p: [Var]) -> Var {
        let s = x.shape
        precondition(s.count >= 2 && s[1] == channels, "GroupNorm(\(channels)) on \(s)")
        let n = s[0], m = x.value.count / (n * groups)
        let h = x.reshaped([n, groups, m])
        let centred = h - h.sum(to: [n, groups, 1]) * (1 / Float(m))
        let variance = centred.squared().sum(to: [n, groups, 1]) * (1 / Float(m))
        let normalised = (centred / (variance + epsilon).sqrt()).reshaped(s)
        var affine = [Int](repeating: 1, count: s.count)
        affine[1] = channels
        return normalised * p[weight].reshaped(affine) + p[bias].reshaped(affine)
    }

    /// silu(self(x + shift)), shift [N, C] added per example and channel: the U-Net's block after each
    /// convolution, as one fused node (`Var.groupNormSiLU`) rather than the taped composition above.
    public func silu(_ x: Var, shift: Var, _ p: [Var]) -> Var {
        precondition(x.shape.count >= 2 && x.shape[1] == channels, "GroupNorm(\(channels)) on \(x.shape)")
        return x.groupNormSiLU(shift: shift, weight: p[weight], bias: p[bias], groups: groups, epsilon: epsilon)
    }

    /// The largest group count ≤ `preferred` that divides `channels`.
    public static func groups(for channels: Int, preferred: Int) -> Int {
        var g = Swift.min(preferred, channels)
        while channels % g != 0 { g -= 1 }
        return g
    }
}

extension Var {
    /// Average pooling of NCHW input over k×k windows with stride k (PyTorch's `avg_pool2d(x, k)`; rows and
    /// columns beyond the last whole window are dropped, as its floor mode does).
    public func averagePooled(_ k: Int) -> Var {
        let s = shape
        precondition(s.count == 4 && k >= 1 && s[2] >= k && s[3] >= k, "average pooling \(k)×\(k) of \(s)")
        let h = s[2] / k, w = s[3] / k
        let cropped = slice(axis: 2, 0 ..< h * k).slice(axis: 3, 0 ..< w * k)
        return cropped.reshaped([s[0], s[1], h, k, w, k]).sum(to: [s[0], s[1], h, 1, w, 1]).reshaped([s[0], s[1], h, w])
            * (1 / Float(k * k))
    }
}
