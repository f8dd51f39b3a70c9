import Foundation
import ScoreEngine

/// What the store keeps of a trained model (the `info` column of its record), in the shape the API shows:
///
///     {"dataset": "swiss_roll", "kind": "points", "data_shape": [2],
///      "schedule": "ve", "perturbation": {"type": "ve", "sigma_min": 0.01, "sigma_max": 15.8},
///      "architecture": {"type": "mlp", …}, "parameter_count": 35458,
///      "recipe": {…the training request's effective fields…},
///      "steps": 5000, "final_loss": 0.93, "train_seconds": 5.1}
///
/// The samplers a model takes and their defaults are not stored: they are derived from the registry when the
/// model is shown (`samplers`), so a sampler added later applies to models trained before it.
struct ModelInfo: Sendable {
    let json: JSONValue

    init(_ json: JSONValue) { self.json = json }

    init(model: ScoreModel, recipe: TrainingRecipe, dataShape: [Int], steps: Int, finalLoss: Double, seconds: Double,
         accuracy: JSONValue? = nil) {
        var o: [String: JSONValue] = [
            "dataset": .string(recipe.dataset),
            "kind": .string(DataKind(itemShape: dataShape).rawValue),
            "data_shape": .array(dataShape.map { .number(Double($0)) }),
            "schedule": .string(model.schedule.name),
            "perturbation": model.schedule.json,
            "architecture": model.architecture.json,
            "parameter_count": .number(Double(model.parameters.trainableScalarCount)),
            "recipe": RecipeSchema.echo(recipe),
            "steps": .number(Double(steps)),
            "final_loss": finalLoss.isFinite ? .number(finalLoss) : .null,
            "train_seconds": .number((seconds * 100).rounded() / 100),
            "role": .string(model.isClassifier ? "classifier" : "score"),
        ]
        if model.isClassifier {
            o["classes"] = .number(Double(model.classes))
            o["accuracy"] = accuracy ?? .null
        }
        json = .object(o)
    }

    /// Whether the model is a noise-conditional classifier (its architecture says so; records from before
    /// classifiers have none).
    var isClassifier: Bool { json["architecture"]?["type"]?.string == "classifier" }

    var dataset: String? { json["dataset"]?.string }
    var preset: String? { json["recipe"]?["preset"]?.string }

    /// The model's sample space, from the record alone (`model` names the record in errors).
    func space(model: String) throws -> DescribedSpace {
        func corrupt(_ reason: String) -> CorruptRecord { CorruptRecord(table: "models", id: model, reason: reason) }
        guard let p = json["perturbation"] else { throw corrupt("no perturbation") }
        let schedule: NoiseSchedule
        do { schedule = try NoiseSchedule(json: p) } catch { throw corrupt("perturbation: \(error)") }
        let items = json["data_shape"]?.array ?? []
        let shape = items.compactMap { $0.number }.filter { $0 >= 1 && $0 == $0.rounded() && $0 <= 1e6 }.map { Int($0) }
        guard !shape.isEmpty, shape.count == items.count else { throw corrupt("data_shape is not a list of positive integers") }
        return DescribedSpace(schedule: schedule, sampleShape: shape)
    }

    /// The samplers that apply, the default, and each one's resolved defaults (the preset's settings over the
    /// sampler's own), as a request would send them.
    func samplers(model: String) throws -> [String: JSONValue] {
        if isClassifier { return ["samplers": [], "default_sampler": .null, "sampler_defaults": [:]] }
        let space = try space(model: model)
        let preset = self.preset.flatMap(Presets.named)
        return ["samplers": .array(SamplerRegistry.supported(by: space).map { .string($0.name) }),
                "default_sampler": SamplerRegistry.defaultEntry(for: space, preset: preset).map { .string($0.name) } ?? .null,
                "sampler_defaults": .object(SamplerRegistry.defaults(for: space, preset: preset))]
    }
}
