/// y = x·Wᵀ + b with W of shape [out, in] (PyTorch's `nn.Linear`), for x of shape [n, in].
public struct Linear: Sendable {
    public let weight: Int
    public let bias: Int?
    public let inFeatures: Int, outFeatures: Int

    /// Registers `name.weight` and `name.bias`, initialised as PyTorch does: U(−1/√in, 1/√in).
    public init(_ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true,
                in params: inout ParameterSet, rng: inout Philox) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        (weight, self.bias) = params.addLayer(name, weight: [outFeatures, inFeatures], fanIn: inFeatures,
                                              bias: bias ? outFeatures : nil, rng: &rng)
    }

    public func callAsFunction(_ x: Var, _ p: [Var]) -> Var {
        guard let b = bias else { return x.matmul(p[weight], transB: true) }
        return x.affine(p[weight], p[b])
    }
}
