import Foundation
import ScoreEngine

/// A sampling job's parameters: what to sample (a model, or an analytic target), with which sampler and
/// settings (resolved: every parameter that applies, defaults filled in), how many, and how to encode them.
struct SamplingJobParameters: Codable, Sendable, Equatable {
    var model: String?
    var target: String?
    /// The preset whose sampler settings were applied, if any.
    var preset: String?
    var sampler: String
    var parameters: JSONValue
    var n: Int
    var seed: Int
    var format: String
    var grid: Bool
    var inpaint: InpaintingParameters?
    /// Preview events every this many steps (nil or 0: none).
    var previewEvery: Int?
    /// The answer streams the samples as they are made.
    var stream: Bool?
    /// Class-conditional sampling: the classifier's id, the labels (n samples of each) and the guidance scale.
    var classifier: String? = nil
    var labels: [Int]? = nil
    var guidance: Double? = nil
    /// Decoding (`POST /decode`, `/interpolate`): the latents x(T), flattened, n of them (the ODE sampler only).
    var latents: [Float]? = nil

    enum CodingKeys: String, CodingKey {
        case model, target, preset, sampler, parameters, n, seed, format, grid, inpaint
        case previewEvery = "preview_every", stream, classifier, labels, guidance, latents
    }

    /// The samples drawn: n, n of each label, or n of each item to complete.
    var rows: Int { n * (labels?.count ?? 1) * (inpaint?.items ?? 1) }
}

/// Inpainting: the known image and its mask (1: known, 0: to fill), flattened in the model's sample shape;
/// for imputation several items (points), each with its own mask, completed n times each.
struct InpaintingParameters: Codable, Sendable, Equatable {
    var image: [Float]
    var mask: [Float]
    /// The number of items in `image` (nil: one).
    var items: Int? = nil
    /// Colorization: `image` is one grey image [H, W] whose grey level the colour samples keep.
    var colorize: Bool? = nil
}

/// A likelihood job's parameters.
struct LikelihoodJobParameters: Codable, Sendable, Equatable {
    var model: String
    var dataset: String
    var n: Int
    var seed: Int
    var divergence: String
    var probe: String
    var rtol: Double
    var atol: Double
    /// Encoding (`POST /encode`): the items themselves (flattened, of the model's shape) instead of a data set;
    /// the answer holds each one's latent and bits/dim.
    var items: [Float]? = nil
}

/// A training job's parameters: the recipe, stored as a request sends it (`RecipeSchema.echo`) so that clients
/// see the effective recipe in the shape they post, and read back through the same schema (not `Codable`:
/// the schema is the recipe's one declaration). A job whose uploaded data set was deleted before it ran fails
/// with the schema's "unknown data set".
struct TrainingJobParameters: Sendable {
    var recipe: TrainingRecipe

    var json: JSONValue { RecipeSchema.echo(recipe) }

    init(recipe: TrainingRecipe) { self.recipe = recipe }

    /// Reads stored parameters back (the data set's kind from the catalog, as for a request).
    init(json: JSONValue, datasets: DatasetCatalog) throws {
        recipe = try RecipeSchema.build(try RecipeSchema.flatten(json)) { try datasets.kind(of: $0) }
    }
}

extension Encodable {
    /// The value as JSON (through `JSONEncoder`).
    var jsonValue: JSONValue {
        get throws { try JSONValue(parsing: Array(JSONEncoder().encode(self))) }
    }
}

extension Decodable {
    /// A value read from JSON (through `JSONDecoder`).
    init(json: JSONValue) throws { self = try JSONDecoder().decode(Self.self, from: Data(json.serialized.utf8)) }
}
