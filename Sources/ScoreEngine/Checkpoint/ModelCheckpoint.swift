import Foundation

/// A model as a safetensors file: its parameters under PyTorch's names (so `safetensors.torch.load_file`
/// followed by `load_state_dict` fills the equivalent module), and in `__metadata__` the architecture, the
/// perturbation and whatever the caller adds (the recipe, the training figures), as JSON strings.
extension ScoreModel {
    public static let checkpointFormat = "scored-model/1"

    public func checkpoint(metadata extra: [String: String] = [:]) -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        var meta = extra
        meta["format"] = ScoreModel.checkpointFormat
        meta["architecture"] = String(decoding: (try? enc.encode(architecture)) ?? Data(), as: UTF8.self)
        meta["schedule"] = String(decoding: (try? enc.encode(schedule)) ?? Data(), as: UTF8.self)
        return Safetensors.write(parameters.named, metadata: meta)
    }

    public struct CheckpointError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a model written by `checkpoint()`; returns it with the file's metadata.
    public static func load(checkpoint data: Data) throws -> (model: ScoreModel, metadata: [String: String]) {
        let file = try Safetensors.read(data)
        guard file.metadata["format"] == checkpointFormat,
              let a = file.metadata["architecture"], let s = file.metadata["schedule"] else {
            throw CheckpointError(description: "not a \(checkpointFormat) checkpoint (metadata format, architecture, schedule)")
        }
        let dec = JSONDecoder()
        let architecture = try dec.decode(Architecture.self, from: Data(a.utf8))
        let schedule = try dec.decode(NoiseSchedule.self, from: Data(s.utf8))
        var model = ScoreModel(architecture: architecture, schedule: schedule, seed: 0)
        try model.parameters.load(from: file.tensors)
        return (model, file.metadata)
    }
}
