import Foundation
import ScoreEngine

/// Samples as a result document, the same for `GET /samples` and `scored sample`:
/// - `json`: `{"model": …, "sampler": "pc", "parameters": {…}, "n": …, "seed": …, "nfe": …, "seconds": …,
///   "shape": [2], "points": [[x, y], …]}` (images flattened row by row);
/// - `pgm`: binary PGM (P5, 8-bit) images back to back, or one tiled grid; gzip-compressed for HTTP.
public enum SampleEncoding {
    public struct Unsupported: Error, CustomStringConvertible { public let description: String }

    /// The formats for samples of this kind, the default first.
    public static func formats(for kind: DataKind) -> [String] { kind == .images ? ["pgm", "json"] : ["json"] }

    /// The JSON document: `header`'s fields, then the rows under `key` (`points`: the samples).
    public static func json(_ x: Tensor, header: [String: JSONValue], key: String = "points") -> [UInt8] {
        var s = JSONValue.object(header).serialized
        s.removeLast()  // the closing brace
        s += (header.isEmpty ? "" : ",") + "\"\(key)\":" + PointCloud.json(x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])) + "}\n"
        return Array(s.utf8)
    }

    /// Binary PGM of grey-scale images [n, 1, H, W]: n images, or one grid (of `columns` columns if given).
    public static func pgm(_ x: Tensor, grid: Bool, columns: Int? = nil) throws -> [UInt8] {
        guard x.rank == 4, x.shape[1] == 1 else { throw Unsupported(description: "format pgm needs grey-scale images") }
        return grid ? ImageCodec.pgmGrid(x, columns: columns) : ImageCodec.pgm(x)
    }

    /// The header fields of class-conditional samples: the rows hold `perLabel` samples of each label in turn.
    public static func guidanceHeader(classifier: String, labels: [Int], perLabel: Int, guidance: Double) -> [String: JSONValue] {
        ["classifier": .string(classifier), "labels": .array(labels.map { .number(Double($0)) }),
         "n_per_label": .number(Double(perLabel)), "guidance": .number(guidance)]
    }

    /// The figures of a run as the documents' header shows them.
    public static func header(sampler: String, parameters: JSONValue, n: Int, seed: Int, nfe: Int, seconds: Double,
                              shape: [Int]) -> [String: JSONValue] {
        ["sampler": .string(sampler), "parameters": parameters, "n": .number(Double(n)), "seed": .number(Double(seed)),
         "nfe": .number(Double(nfe)), "seconds": .number((seconds * 1000).rounded() / 1000),
         "shape": .array(shape.map { .number(Double($0)) })]
    }
}
