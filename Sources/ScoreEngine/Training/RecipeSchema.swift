/// The training recipe's fields, declared once: (path, type, range, default for points and for images, the
/// data they apply to, help), each bound to its stored property of `TrainingRecipe`. The objective's and the
/// SDE's fields come from their registries. Requests (`POST /train`, `scored train`), the OpenAPI schema, the
/// page's form and the echo of a job's effective recipe are derived from this table.
///
/// Network fields sit under `model` in a request (`{"model": {"hidden": [64, 64]}}`); their path is
/// `model.hidden`. Everything else is top-level.
public enum RecipeSchema {
    public struct Field: Sendable {
        /// Where the field sits in a request: `steps`, `model.hidden`.
        public let path: String
        public let parameter: Parameter
        /// The data the field applies to.
        public let kinds: [DataKind]
        let read: @Sendable (TrainingRecipe) -> JSONValue
        let write: @Sendable (inout TrainingRecipe, JSONValue) -> Void

        public var isNetwork: Bool { path.hasPrefix("model.") }
    }

    /// The recipe's own fields (the objective's and the SDE's are in their registries).
    public static let fields: [Field] = {
        let bare = TrainingRecipe(bare: ())
        func field<V: RecipeValue>(_ path: String, _ keyPath: WritableKeyPath<TrainingRecipe, V> & Sendable, _ kind: Parameter.Kind,
                                   kinds: [DataKind] = DataKind.allCases, images: V? = nil, help: String) -> Field {
            let key = String(path.split(separator: ".").last!)
            let points = bare[keyPath: keyPath].json
            let d: Parameter.Default = .byKind(points: .value(points), images: .value(images?.json ?? points))
            return Field(path: path, parameter: Parameter(key, kind, default: d, help: help), kinds: kinds,
                         read: { $0[keyPath: keyPath].json }, write: { $0[keyPath: keyPath] = V(json: $1) })
        }
        let activations: [Pointwise] = [.silu, .relu, .elu, .tanh, .softplus, .logSigmoid, .sigmoid]
        return [
            field("dataset", \.dataset, .text(maxLength: 200), images: "mnist",
                  help: "a built-in data set (GET /datasets) or an uploaded one's id"),
            field("dataset_size", \.datasetSize, .integer(1...1_000_000), kinds: [.points],
                  help: "points drawn from a built-in generator (uploads use all of theirs)"),
            field("objective", \.objective, .choice(ObjectiveRegistry.names), help: "the training objective"),
            field("model.hidden", \.hidden, .integerList(1...4096, count: 1...16), kinds: [.points], help: "hidden layer widths of the MLP"),
            field("model.activation", \.activation, .choice(activations.map(\.rawValue)), kinds: [.points], help: "the MLP's activation"),
            field("model.conditioning", \.conditioning, .choice(MLPScoreNet.Config.Conditioning.allCases.map(\.rawValue)), kinds: [.points],
                  help: "how the noise level enters the MLP: concat (at the input) or layers (also projected into every hidden layer)"),
            field("model.channels", \.channels, .integerList(1...1024, count: 4...4), kinds: [.images], help: "widths of the U-Net's four levels"),
            field("model.time_features", \.timeFeatures, .integer(2...1024), images: 256,
                  help: "Gaussian Fourier features of the noise level (an even number)"),
            field("model.fourier_scale", \.fourierScale, .number(.above(0, upTo: 1000)), images: 8,
                  help: "scale of the Fourier features' random frequencies"),
            field("model.preconditioning", \.preconditioning, .boolean, images: false,
                  help: "scale the network's input by 1/√(m(t)²σ_d² + σ(t)²) (σ_d: the data's scale)"),
            field("steps", \.steps, .integer(1...10_000_000), images: 20_000, help: "optimisation steps"),
            field("batch_size", \.batchSize, .integer(1...65_536), images: 32, help: "examples per step"),
            field("learning_rate", \.learningRate, .number(.above(0, upTo: 1)), images: 5e-4, help: "Adam's learning rate"),
            field("warmup", \.warmup, .integer(0...10_000_000), images: 500, help: "steps of linear learning-rate warm-up"),
            field("lr_schedule", \.lrSchedule, .choice(TrainingRecipe.LearningRateSchedule.allCases.map(\.rawValue)),
                  help: "after warm-up: constant, or cosine decay to zero at the last step"),
            field("grad_clip", \.gradClip, .number(.closed(0, 1e6)), help: "clip the gradient's global norm to this (0: no clipping)"),
            field("ema", \.ema, .number(.closed(0, 0.999999)), images: 0.999,
                  help: "decay of the exponential moving average of the weights used for sampling (0: none)"),
            field("seed", \.seed, .integer(0...Int(Int32.max)), help: "seed of every random draw of the run"),
        ]
    }()

    public static let presetParameter = Parameter(
        "preset", .choice(Presets.all.map(\.name)), default: .none(""),
        help: "start from a named recipe (GET /presets); fields sent beside it override it")

    public static func field(_ path: String) -> Field? { fields.first { $0.path == path } }

    /// The request path of a key: `hidden` → `model.hidden`, `steps` → `steps`.
    public static func path(forKey key: String) -> String {
        fields.first { $0.parameter.key == key }?.path ?? key
    }

    /// A request body as paths and values: `{"steps": 10, "model": {"hidden": [8]}}` → `steps`, `model.hidden`.
    /// A null stays: `build` reads it as "unset" (it removes a preset's value).
    public static func flatten(_ body: JSONValue) throws -> [String: RawValue] {
        guard let o = body.object else { throw InvalidParameter("body", "must be a JSON object") }
        var out: [String: RawValue] = [:]
        for (k, v) in o {
            if k == "model" {
                if v == .null { continue }
                guard let m = v.object else { throw InvalidParameter("model", "must be a JSON object, got \(v.typeName)") }
                for (mk, mv) in m { out["model.\(mk)"] = .json(mv) }
            } else {
                out[k] = .json(v)
            }
        }
        return out
    }

    /// A recipe from sent fields: the defaults for the data set's kind, then the preset's fields, then `base`
    /// (both only where they apply to the recipe that results), then the sent ones, which must all apply. A
    /// field sent as null is unset (a preset's `sigma` removed, say). `kindOf` names what a data set holds (nil:
    /// no such data set).
    public static func build(_ given: [String: RawValue], base: [String: RawValue] = [:],
                             kindOf: (String) throws -> DataKind?) throws -> TrainingRecipe {
        var given = given
        var fromPreset: [String: RawValue] = [:]
        var preset: Preset? = nil
        if let raw = given.removeValue(forKey: "preset") ?? base["preset"], raw != .json(.null) {
            let p = Presets.named(try presetParameter.parse(raw).string ?? "")!
            preset = p
            fromPreset = try flatten(p.recipe)
        }
        fromPreset.merge(base.filter { $0.key != "preset" }) { _, b in b }
        for (k, v) in given where v == .json(.null) {
            given[k] = nil
            fromPreset[k] = nil
        }
        let datasetField = field("dataset")!
        let dataset = try parse(datasetField, given["dataset"] ?? fromPreset["dataset"] ?? .json(.string(TrainingRecipe(bare: ()).dataset))).string!
        guard let kind = try kindOf(dataset) else { throw InvalidParameter("dataset", "unknown data set \(dataset) (see GET /datasets)") }
        if let p = preset, p.kind != kind {
            throw InvalidParameter("dataset", "preset \(p.name) is for \(p.kind); \(dataset) holds \(kind)")
        }
        var r = TrainingRecipe(kind: kind)
        r.preset = preset?.name
        for f in fields {
            if let raw = given.removeValue(forKey: f.path) {
                guard f.kinds.contains(kind) else {
                    throw InvalidParameter.doesNotApply(f.path, "applies to \(f.kinds.map { "\($0)" }.joined(separator: ", ")) data sets; \(dataset) holds \(kind)")
                }
                f.write(&r, try parse(f, raw))
            } else if let raw = fromPreset.removeValue(forKey: f.path), f.kinds.contains(kind) {
                f.write(&r, try parse(f, raw))
            }
        }
        // The objective's and SDE's fields: the sent ones, then the preset's that apply to the objective chosen.
        let entry = r.objectiveEntry
        var presetOwn = fromPreset.filter { ObjectiveRegistry.isObjectiveParameter($0.key) }
        while true {
            do {
                r.objectiveParameters = try entry.resolve(presetOwn.merging(given) { _, sent in sent }, kind: kind) {
                    InvalidParameter.unknown($0)
                }
                break
            } catch let e as InvalidParameter where e.inapplicable && presetOwn[e.field] != nil && given[e.field] == nil {
                presetOwn[e.field] = nil
            }
        }
        return try r.validated()
    }

    static func parse(_ f: Field, _ raw: RawValue) throws -> JSONValue {
        do { return try f.parameter.parse(raw) } catch let e as InvalidParameter { throw InvalidParameter(f.path, e.message) }
    }

    /// The effective recipe in a request's shape: every field that applies to it, with its value; a field that
    /// applies but is unset (σ_max resolved from the data) as null. Sent back, it gives the same recipe.
    public static func echo(_ r: TrainingRecipe) -> JSONValue {
        var top: [String: JSONValue] = [:], model: [String: JSONValue] = [:]
        for f in fields where f.kinds.contains(r.kind) {
            if f.isNetwork { model[f.parameter.key] = f.read(r) } else { top[f.path] = f.read(r) }
        }
        for p in r.objectiveEntry.parameters(for: r.objectiveParameters) {
            top[p.key] = r.objectiveParameters[p.key] ?? .null
        }
        if let preset = r.preset { top["preset"] = .string(preset) }
        top["model"] = .object(model)
        return .object(top)
    }

    /// Every field a request may send, in the order of the documentation: the recipe's own, then the
    /// objectives' and SDEs' (each once), with the objectives and SDEs it belongs to.
    public static var perturbationFields: [(parameter: Parameter, owners: [String])] {
        ObjectiveRegistry.parameters.map { p in
            let objectives = ObjectiveRegistry.all.filter { $0.parameters.parameter(p.key) != nil }.map { "objective \($0.name)" }
            let sdes = SDERegistry.all.filter { $0.parameters.parameter(p.key) != nil }.map { "dsm with sde \($0.name)" }
            return (p, objectives + sdes)
        }
    }
}

extension ObjectiveEntry {
    /// The parameters that apply under these values: its own whose conditions hold, and its SDE's.
    public func parameters(for values: ParameterValues) -> [Parameter] {
        var ps = parameters
        if let sde = sdeName(values), let e = SDERegistry.entry(sde) { ps += e.parameters }
        return ps.filter { p in p.condition.map { $0.values.contains(values[$0.key] ?? .null) } ?? true }
    }
}

/// A stored property's value as JSON and back (the values come checked against the field's declaration).
public protocol RecipeValue: Sendable {
    var json: JSONValue { get }
    init(json: JSONValue)
}

extension Int: RecipeValue {
    public var json: JSONValue { .number(Double(self)) }
    public init(json: JSONValue) { self = Int(json.number ?? 0) }
}
extension UInt64: RecipeValue {
    public var json: JSONValue { .number(Double(self)) }
    public init(json: JSONValue) { self = UInt64(json.number ?? 0) }
}
extension Double: RecipeValue {
    public var json: JSONValue { .number(self) }
    public init(json: JSONValue) { self = json.number ?? 0 }
}
extension Bool: RecipeValue {
    public var json: JSONValue { .bool(self) }
    public init(json: JSONValue) { self = json.bool ?? false }
}
extension String: RecipeValue {
    public var json: JSONValue { .string(self) }
    public init(json: JSONValue) { self = json.string ?? "" }
}
extension Array: RecipeValue where Element == Int {
    public var json: JSONValue { .array(map { .number(Double($0)) }) }
    public init(json: JSONValue) { self = (json.array ?? []).map { Int($0.number ?? 0) } }
}
extension RecipeValue where Self: RawRepresentable, RawValue == String {
    public var json: JSONValue { .string(rawValue) }
    public init(json: JSONValue) { self = Self(rawValue: json.string ?? "")! }
}
extension Pointwise: RecipeValue {}
extension MLPScoreNet.Config.Conditioning: RecipeValue {}
extension TrainingRecipe.LearningRateSchedule: RecipeValue {}
