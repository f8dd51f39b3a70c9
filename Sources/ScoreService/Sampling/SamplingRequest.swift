import ScoreEngine

/// The part of a sampling request that the HTTP API (`GET /samples`) and the command line (`scored sample`)
/// share, resolved the same way with the same errors: how many samples, the seed, the encoding, and the
/// sampler with its settings (a preset's under the sent ones, the sampler's defaults under both).
public struct SamplingRequest: Sendable {
    public let sampler: SamplerEntry
    /// The sampler's settings, resolved: every one that applies, defaults filled in.
    public let settings: ParameterValues
    public let n: Int
    public let seed: Int
    public let format: String
    public let grid: Bool

    public static let targetParameter = Parameter(
        "target", .choice(AnalyticTarget.all.map(\.name)), default: .none(""),
        help: "sample an analytic target instead of a model (the Langevin tutorial's donut)")
    public static let presetParameter = Parameter(
        "preset", .choice(Presets.all.map(\.name)), default: .none("the model's training preset, if any"),
        help: "apply a preset's sampler settings (GET /presets)")

    /// The request's own fields (the subject and the samplers' settings are declared elsewhere).
    public static func parameters(maxSamples: Int) -> [Parameter] {
        [
            Parameter("sampler", .choice(SamplerRegistry.names), default: .none("the model's default sampler (its preset's, else the first that applies)"),
                      help: "the sampler (GET /samplers)"),
            Parameter("n", .integer(1...maxSamples), default: .byKind(points: .value(1000), images: .value(16)),
                      help: "number of samples (a preset may set another default)"),
            Parameter("seed", .integer(0...Int(Int32.max)), default: .value(0), help: "sample i depends only on (seed, i)"),
            Parameter("format", .choice(["json", "pgm"]), default: .byKind(points: .value("json"), images: .value("pgm")),
                      help: "json (points, or images as rows of pixels) or pgm (grey image models: binary PGM)"),
            Parameter("grid", .boolean, default: .value(false), help: "format pgm: one tiled image instead of n"),
        ]
    }

    /// Resolves the request's fields and the sampler's for `source`, taking them out of `fields` (what is left
    /// was not a sampling field). `preset` supplies the default sampler, its settings and n.
    public init(_ fields: inout [String: RawValue], source: any ScoreSource, preset: Preset?, maxSamples: Int) throws {
        let declared = SamplingRequest.parameters(maxSamples: maxSamples)
        let keys = Set(declared.map(\.key))
        let mine = fields.filter { keys.contains($0.key) }
        for k in keys { fields[k] = nil }
        var v = try declared.resolve(mine, kind: source.dataKind, source: source, owner: "sampling") { InvalidParameter($0, "unknown field") }
        if mine["n"] == nil, let n = preset?.sampling.n { v["n"] = .number(Double(min(n, maxSamples))) }
        format = v.string("format")
        let formats = SampleEncoding.formats(for: source.dataKind).filter { $0 != "pgm" || source.sampleShape.first == 1 }
        guard formats.contains(format) else { throw InvalidParameter("format", "must be one of \(formats.joined(separator: ", ")) for this model") }
        grid = v.bool("grid")
        if grid && format != "pgm" { throw InvalidParameter("grid", "applies to format pgm") }
        n = v.int("n")
        seed = v.int("seed")
        if let name = v["sampler"]?.string {
            sampler = SamplerRegistry.entry(name)!
        } else {
            guard let e = SamplerRegistry.defaultEntry(for: source, preset: preset) else { throw InvalidParameter("sampler", "no sampler applies to this model") }
            sampler = e
        }
        let sent = fields.filter { SamplerRegistry.isSamplerParameter($0.key) }
        for k in sent.keys { fields[k] = nil }
        settings = try sampler.resolve((preset?.parameters(for: sampler.name) ?? [:]).merging(sent) { _, s in s }, for: source)
    }
}
