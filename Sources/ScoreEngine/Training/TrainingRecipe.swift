/// Everything that defines a training run: data, network, objective and perturbation, optimisation, seed.
///
/// The fields' keys, types, ranges, defaults and help are declared once, in `RecipeSchema` (this struct's
/// stored values are the defaults for points; the schema holds the image defaults beside them) and in the
/// objective and SDE registries (`objectiveParameters`). The HTTP API, the command line, the OpenAPI
/// description and the echo of a job's effective recipe are all derived from those declarations.
public struct TrainingRecipe: Sendable, Equatable {
    /// What the data set holds; decides the network and which fields apply.
    public var kind: DataKind = .points
    /// The preset the recipe started from, if any (its sampler settings become the model's defaults).
    public var preset: String? = nil
    public var dataset = "swiss_roll"
    /// Points drawn from a built-in generator (ignored for stored data sets).
    public var datasetSize = 10_000
    /// The objective's registry name, and its (and its SDE's) resolved parameters.
    public var objective = "dsm"
    public var objectiveParameters: ParameterValues
    /// Point models (MLP): hidden widths, activation, how the noise level enters.
    public var hidden = [128, 128, 128]
    public var activation: Pointwise = .silu
    public var conditioning: MLPScoreNet.Config.Conditioning = .layers
    /// Image models (U-Net): the widths of its four levels.
    public var channels = [32, 64, 128, 256]
    /// Fourier features of the noise level and their scale (both networks).
    public var timeFeatures = 32
    public var fourierScale = 4.0
    /// Precondition the network's input by the data's scale (see `ScoreModel`).
    public var preconditioning = true
    public var steps = 5000
    public var batchSize = 256
    public var learningRate = 3e-3
    public var warmup = 0
    /// Learning-rate schedule after warm-up: constant, or cosine decay to zero at the last step.
    public var lrSchedule: LearningRateSchedule = .cosine
    public var gradClip = 1.0
    /// EMA decay of the weights used for sampling (0: no EMA).
    public var ema = 0.99
    public var seed: UInt64 = 0

    public enum LearningRateSchedule: String, Sendable, CaseIterable { case constant, cosine }

    /// The stored values alone, without objective parameters: where the schema reads the point defaults.
    init(bare: Void) { objectiveParameters = ParameterValues() }

    /// The defaults for data of `kind`: the schema's values for it, the default objective with its defaults.
    public init(kind: DataKind = .points) {
        objectiveParameters = ParameterValues()
        self.kind = kind
        for f in RecipeSchema.fields {
            if let v = f.parameter.defaultValue(kind: kind, source: nil) { f.write(&self, v) }
        }
        setObjective(objective)
    }

    /// Switches to a registered objective with its default parameters for this recipe's data.
    public mutating func setObjective(_ name: String, _ given: [String: JSONValue] = [:]) {
        guard let entry = ObjectiveRegistry.entry(name) else { preconditionFailure("unknown objective \(name)") }
        objective = name
        do {
            objectiveParameters = try entry.resolve(given.mapValues { .json($0) }, kind: kind) { InvalidParameter.unknown($0) }
        } catch {
            preconditionFailure("objective \(name) with \(given): \(error)")
        }
    }

    public var objectiveEntry: ObjectiveEntry {
        guard let e = ObjectiveRegistry.entry(objective) else { preconditionFailure("unknown objective \(objective)") }
        return e
    }

    /// Checks what the field declarations alone cannot (relations between fields); throws for the first
    /// field at fault, by its path in a request.
    public func validated() throws -> TrainingRecipe {
        guard timeFeatures % 2 == 0 else { throw InvalidParameter("model.time_features", "must be an even number") }
        guard objectiveEntry.kinds.contains(kind) else {
            throw InvalidParameter("objective", "\(objective) does not apply to \(kind)")
        }
        return self
    }

    /// The perturbation the model is trained under (σ_max resolved against the data when unset).
    public func schedule(data: Tensor) -> NoiseSchedule {
        objectiveEntry.makeSchedule(objectiveParameters, data: data)
    }

    /// The objective for a schedule.
    public func makeObjective(_ schedule: NoiseSchedule) -> any TrainingObjective {
        objectiveEntry.make(objectiveParameters, schedule)
    }
}
