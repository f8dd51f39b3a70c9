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
    /// Class-conditional sampling: the labels (n samples of each, in this order) and the guidance scale.
    public let labels: [Int]?
    public let guidance: Double

    public static let targetParameter = Parameter(
        "target", .choice(AnalyticTarget.all.map(\.name)), default: .none(""),
        help: "sample an analytic target instead of a model (the Langevin tutorial's donut)")
    public static let presetParameter = Parameter(
        "preset", .choice(Presets.all.map(\.name)), default: .none("the model's training preset, if any"),
        help: "apply a preset's sampler settings (GET /presets)")

    /// The request's own fields (the subject and the samplers' settings are declared elsewhere).
    public static func parameters(maxSamples: Int) -> [Parameter] {
        [
            Parameter("sampler", .choice(SamplerRegistry.names), default: .none("the model's default sampler (its preset's, else \(SamplerRegistry.declaredDefaults), else the first that applies)"),
                      help: "the sampler (GET /samplers)"),
            Parameter("n", .integer(1...maxSamples), default: .byKind(points: .value(1000), images: .value(16)),
                      help: "number of samples (a preset may set another default)"),
            Parameter("seed", .integer(0...Int(Int32.max)), default: .value(0), help: "sample i depends only on (seed, i)"),
            Parameter("format", .choice(SampleEncoding.allFormats),
                      default: .derived("pgm for grey images, png for colour, json for points", { .string(SampleEncoding.formats(for: $0.sampleShape)[0]) }),
                      help: "json (points, or images as rows of values), pgm (grey images: binary PGM), ppm (colour: binary PPM) or png (one image: the grid)"),
            Parameter("grid", .boolean, default: .value(false), help: "pgm, ppm: one tiled image instead of n (one row per label); png is always the grid"),
        ] + guidanceParameters
    }

    /// The fields of class-conditional sampling (the classifier itself is named where the model is).
    public static let guidanceParameters: [Parameter] = [
        Parameter("label", .integerList(0...PointCloud.maxLabel, count: 1...100), default: .none("unconditional"),
                  help: "with a classifier: the class to sample, or a list of classes (n samples of each, one grid row per label)"),
        // Images: 6, where the default sampler's MNIST digits are recognised as their label 93% of the time
        // (61% at 1, 80% at 2, 91% at 4; docs/benchmarks.md, "Class-conditional MNIST").
        Parameter("guidance", .number(.closed(0, 1000)), default: .byKind(points: .value(1.0), images: .value(6.0)),
                  help: "with a classifier: the scale w of ∇ log p_t(y | x) added to the score (1: the exact conditional; more: sharper classes)"),
    ]

    /// Resolves the request's fields and the sampler's for `source`, taking them out of `fields` (what is left
    /// was not a sampling field). `preset` supplies the default sampler, its settings and n.
    /// `classifier` is the noise-conditional classifier named by the request (its field `classifierField`).
    /// `itemsPerRequest`: items completed n times each (imputation), which multiply the rows as labels do.
    public init(_ fields: inout [String: RawValue], source: any ScoreSource, preset: Preset?, maxSamples: Int,
                classifier: ScoreModel? = nil, classifierField: String = "classifier", itemsPerRequest: Int = 1) throws {
        if let m = source as? ScoreModel, m.isClassifier {
            throw InvalidParameter("model", "is a classifier, which is not sampled: name a score model, and the classifier as \(classifierField)")
        }
        let declared = SamplingRequest.parameters(maxSamples: maxSamples)
        let keys = Set(declared.map(\.key))
        let mine = fields.filter { keys.contains($0.key) }
        for k in keys { fields[k] = nil }
        var v = try declared.resolve(mine, kind: source.dataKind, source: source, owner: "sampling") { InvalidParameter.unknown($0) }
        if mine["n"] == nil, let n = preset?.sampling.n { v["n"] = .number(Double(min(n, maxSamples))) }
        format = v.string("format")
        let formats = SampleEncoding.formats(for: source.sampleShape)
        guard formats.contains(format) else { throw InvalidParameter("format", "must be one of \(formats.joined(separator: ", ")) for this model") }
        grid = v.bool("grid")
        if grid && !SampleEncoding.isImage(format) { throw InvalidParameter("grid", "applies to image formats (pgm, ppm, png)") }
        n = v.int("n")
        seed = v.int("seed")
        guidance = v.double("guidance")
        if let classifier {
            guard v.has("label") else { throw InvalidParameter("label", "is required with a classifier: the class(es) to sample") }
            let labels = v.ints("label")
            try SamplingRequest.check(classifier: classifier, field: classifierField, against: source)
            if let bad = labels.first(where: { $0 >= classifier.classes }) {
                throw InvalidParameter("label", "\(bad) is not a class of the classifier (0…\(classifier.classes - 1))")
            }
            guard n * labels.count * itemsPerRequest <= maxSamples else {
                throw InvalidParameter("n", "\(n) samples of each of \(labels.count) labels is \(n * labels.count), more than \(maxSamples)")
            }
            self.labels = labels
        } else {
            for key in ["label", "guidance"] where mine[key] != nil {
                throw InvalidParameter(key, "needs a classifier (\(classifierField)) to guide the sampler")
            }
            labels = nil
        }
        guard n * itemsPerRequest <= maxSamples else {
            throw InvalidParameter("n", "\(n) completions of each of \(itemsPerRequest) items is \(n * itemsPerRequest), more than \(maxSamples)")
        }
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

    /// The samples drawn: n, or n of each label.
    public var rows: Int { n * (labels?.count ?? 1) }

    /// Grid columns: n when there is one row per label.
    public var gridColumns: Int? { labels != nil ? n : nil }

    /// What the sampler follows: the model's score, guided by the classifier toward each row's label.
    public func score(_ source: any ScoreSource, classifier: ScoreModel?) -> any ScoreFunction {
        guard let labels, let classifier else { return source }
        return GuidedScore.perLabel(base: source, classifier: classifier, labels: labels, perLabel: n, scale: guidance)
    }

    /// A classifier guides a score model when it was trained on the same SDE (parameters within 1%, since
    /// σ_max may come from each one's own draw of the data) and on data of the same shape.
    public static func check(classifier: ScoreModel, field: String, against source: any ScoreSource) throws {
        guard classifier.isClassifier else { throw InvalidParameter(field, "is a score model, not a classifier (train one with objective classifier)") }
        guard let sde = source.schedule.sde else {
            throw InvalidParameter(field, "guidance needs a model trained on an SDE (\(SDERegistry.names.joined(separator: ", "))); this one is \(source.schedule.name)")
        }
        guard classifier.sampleShape == source.sampleShape else {
            throw InvalidParameter(field, "was trained on items of shape \(classifier.sampleShape), the model on \(source.sampleShape)")
        }
        let a = source.schedule.json.object ?? [:], b = classifier.schedule.json.object ?? [:]
        let same = a.keys.sorted() == b.keys.sorted() && a.allSatisfy { k, x in
            if let u = x.number, let w = b[k]?.number { return abs(u - w) <= 0.01 * max(abs(u), abs(w)) }
            return x == b[k]
        }
        guard same else {
            throw InvalidParameter(field, "was trained on \(classifier.schedule.json.serialized), the model on \(source.schedule.json.serialized) (\(sde.name)): train the classifier on the model's SDE")
        }
    }
}
