import Foundation

/// A model as a safetensors file: its parameters under PyTorch's names (so `safetensors.torch.load_file`
/// followed by `load_state_dict` fills the equivalent module), and in `__metadata__` the architecture and the
/// perturbation as tagged JSON objects (`Architecture.json`, `NoiseSchedule.json`) and whatever the caller adds
/// (the recipe, the training figures). Files of the first format (`scored-model/1`, Swift's synthesized enum
/// encoding) still load.
extension ScoreModel {
    public static let checkpointFormat = "scored-model/2"

    public func checkpoint(metadata extra: [String: String] = [:]) -> Data {
        var meta = extra
        meta["format"] = ScoreModel.checkpointFormat
        meta["architecture"] = architecture.json.serialized
        meta["schedule"] = schedule.json.serialized
        return Safetensors.write(parameters.named, metadata: meta)
    }

    public struct CheckpointError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a model written by `checkpoint()`; returns it with the file's metadata (in the current format).
    public static func load(checkpoint data: Data) throws -> (model: ScoreModel, metadata: [String: String]) {
        let file = try Safetensors.read(data)
        guard let format = file.metadata["format"], ["scored-model/1", checkpointFormat].contains(format),
              let a = file.metadata["architecture"], let s = file.metadata["schedule"] else {
            throw CheckpointError(description: "not a \(checkpointFormat) checkpoint (metadata format, architecture, schedule)")
        }
        var architectureJSON = try JSONValue(parsing: a), scheduleJSON = try JSONValue(parsing: s)
        var metadata = file.metadata
        if format == "scored-model/1" {
            architectureJSON = LegacyFormat.architecture(architectureJSON)
            scheduleJSON = LegacyFormat.schedule(scheduleJSON)
            metadata["format"] = checkpointFormat
            metadata["architecture"] = architectureJSON.serialized
            metadata["schedule"] = scheduleJSON.serialized
        }
        do {
            var model = ScoreModel(architecture: try Architecture(json: architectureJSON), schedule: try NoiseSchedule(json: scheduleJSON), seed: 0)
            try model.parameters.load(from: file.tensors)
            return (model, metadata)
        } catch let e as Architecture.Invalid {
            throw CheckpointError(description: "architecture: \(e)")
        } catch let e as NoiseSchedule.Invalid {
            throw CheckpointError(description: "schedule: \(e)")
        }
    }
}

/// The first release's encodings (Swift's synthesized `Codable` for enums with associated values, camelCase
/// keys: `{"mlp": {"_0": {"timeFeatures": 32, …}}}`, `{"ve": {"_0": {"sigmaMax": 22, …}}}`) rewritten as the
/// tagged snake_case objects of the current one. Used by the checkpoint loader and the store's migration.
public enum LegacyFormat {
    public static func architecture(_ v: JSONValue) -> JSONValue {
        var o = tagged(v, names: ["mlp": "mlp", "unet": "unet"])
        if let t = o["embed_dim"] { o["time_features"] = t; o["embed_dim"] = nil }
        if o["activation"] == "logSigmoid" { o["activation"] = "log_sigmoid" }
        if o["data_scale"] == nil { o["data_scale"] = .null }
        return .object(o)
    }

    public static func schedule(_ v: JSONValue) -> JSONValue {
        .object(tagged(v, names: ["none": "none", "fixed": "fixed", "ladder": "ladder", "ve": "ve", "vp": "vp", "subVP": "subvp"]))
    }

    /// `{"tag": {"_0": {camelCase…}}}` or `{"tag": {camelCase…}}` → `{"type": name, snake_case…}`.
    static func tagged(_ v: JSONValue, names: [String: String]) -> [String: JSONValue] {
        guard let o = v.object, o.count == 1, let (tag, body) = o.first else { return v.object ?? [:] }
        var fields = body.object ?? [:]
        if fields.count == 1, let inner = fields["_0"]?.object { fields = inner }
        var out: [String: JSONValue] = ["type": .string(names[tag] ?? tag)]
        for (k, x) in fields { out[snakeCase(k)] = x }
        return out
    }

    /// `sigmaMax` → `sigma_max`.
    public static func snakeCase(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}
