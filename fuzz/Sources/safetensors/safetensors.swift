import Foundation
import FuzzKit
import ScoreEngine

/// The safetensors reader (`Safetensors.read`: 8-byte header length, JSON header, F32/F16/BF16/F64 data)
/// and the model checkpoint loader on top of it (`ScoreModel.load(checkpoint:)`, what the model cache does
/// with a stored checkpoint). A model is built only when the architecture in the metadata is small (every
/// number at most 64 in magnitude, every list at most 8 long), so that a legitimate huge network does not
/// count as a memory blow-up. Checked: tensors hold as many scalars as their shape says; a file written back
/// (`Safetensors.write`) reads back bit for bit; a loaded model's parameters are the file's tensors, and its
/// own checkpoint loads back to the same parameters.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(FuzzKit.bytes(data, size))
    guard let file = try? Safetensors.read(bytes) else { return 0 }
    FuzzKit.note("tensors \(file.order.map { "\($0)\(file.tensors[$0]!.shape)" })")
    for (name, t) in file.tensors {
        FuzzKit.require(t.count == t.shape.reduce(1, *), "tensor \(name): \(t.count) scalars for \(t.shape)")
    }
    FuzzKit.require(Set(file.order) == Set(file.tensors.keys), "order \(file.order) and names \(file.tensors.keys) differ")

    let written = Safetensors.write(file.order.map { ($0, file.tensors[$0]!) }, metadata: file.metadata)
    guard let back = try? Safetensors.read(written) else {
        FuzzKit.require(false, "a safetensors file written back does not read back")
        return 0
    }
    FuzzKit.require(back.metadata == file.metadata, "metadata read back differs")
    // (Empty tensors share offsets, so their place in the order is arbitrary.)
    let nonEmpty = { (f: Safetensors.File) in f.order.filter { f.tensors[$0]!.count > 0 } }
    FuzzKit.require(nonEmpty(back) == nonEmpty(file), "order read back differs: \(back.order) vs \(file.order)")
    for (name, t) in file.tensors {
        FuzzKit.require(back.tensors[name].map { sameBits($0, t) } ?? false, "tensor \(name) read back differs")
    }

    // The checkpoint loader, for small architectures.
    if let a = file.metadata["architecture"], let arch = try? JSONValue(parsing: a), !isSmall(arch) { return 0 }
    let loaded: (model: ScoreModel, metadata: [String: String])
    do { loaded = try ScoreModel.load(checkpoint: bytes) } catch {
        FuzzKit.note("not a model: \(error)")
        return 0
    }
    FuzzKit.note("model \(loaded.model.architecture.json.serialized)")
    FuzzKit.require(loaded.metadata["format"] == ScoreModel.checkpointFormat, "loaded format \(loaded.metadata["format"] ?? "none")")
    for (name, t) in loaded.model.parameters.named {
        FuzzKit.require(file.tensors[name].map { sameBits($0, t) } ?? false, "parameter \(name) is not the file's tensor")
    }
    let again = loaded.model.checkpoint(metadata: loaded.metadata)
    guard let reloaded = try? ScoreModel.load(checkpoint: again) else {
        FuzzKit.require(false, "a loaded model's checkpoint does not load")
        return 0
    }
    FuzzKit.require(reloaded.model.architecture == loaded.model.architecture, "architecture changed on reload")
    FuzzKit.require(zip(reloaded.model.parameters.tensors, loaded.model.parameters.tensors).allSatisfy { sameBits($0, $1) },
                    "parameters changed on reload")
    return 0
}

func sameBits(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern)
}

func isSmall(_ v: JSONValue) -> Bool {
    switch v {
    case .number(let x): return !(abs(x) > 64)
    case .array(let a): return a.count <= 8 && a.allSatisfy(isSmall)
    case .object(let o): return o.values.allSatisfy(isSmall)
    default: return true
    }
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
