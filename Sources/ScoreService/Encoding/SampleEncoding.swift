import Foundation
import ScoreEngine

/// Samples as a result document, the same for `GET /samples` and `scored sample`:
/// - `json`: `{"model": …, "sampler": "pc", "parameters": {…}, "n": …, "seed": …, "nfe": …, "seconds": …,
///   "shape": [2], "points": [[x, y], …]}` (images flattened row by row);
/// - `pgm`/`ppm`: binary PGM (P5, grey) or PPM (P6, colour), 8-bit, images back to back, or one tiled grid;
///   gzip-compressed for HTTP;
/// - `png`: one PNG, the tiled grid (or the image, for one).
public enum SampleEncoding {
    public struct Unsupported: Error, CustomStringConvertible { public let description: String }

    /// Every format a sample can be written in.
    public static let allFormats = ["json", "pgm", "ppm", "png"]

    /// The formats for samples of this shape, the default first: grey images pgm, png, json; colour images
    /// png, ppm, json; points json.
    public static func formats(for shape: [Int]) -> [String] {
        guard shape.count == 3 else { return ["json"] }
        return shape[0] == 1 ? ["pgm", "png", "json"] : ["png", "ppm", "json"]
    }

    /// Whether a format is an image file (not JSON).
    public static func isImage(_ format: String) -> Bool { format != "json" }

    /// The media type of an image format.
    public static func mediaType(_ format: String) -> String {
        switch format {
        case "pgm": return "image/x-portable-graymap"
        case "ppm": return "image/x-portable-pixmap"
        case "png": return "image/png"
        default: return "application/json"
        }
    }

    /// Images [n, C, H, W] in an image format: n PGM/PPM images back to back or one tiled grid (`columns`
    /// across); PNG is one image, the grid (or the image itself when there is one and no grid is asked).
    public static func image(_ x: Tensor, format: String, grid: Bool, columns: Int? = nil) throws -> [UInt8] {
        guard x.rank == 4, x.shape[1] == 1 || x.shape[1] == 3 else { throw Unsupported(description: "format \(format) needs images [n, 1 or 3, H, W]") }
        switch format {
        case "pgm", "ppm":
            guard (format == "pgm") == (x.shape[1] == 1) else { throw Unsupported(description: "format \(format) is for \(format == "pgm" ? "grey" : "colour") images") }
            return grid ? ImageCodec.pnmGrid(x, columns: columns) : ImageCodec.pnm(x)
        case "png":
            if x.shape[0] == 1 && !grid {
                return PNG.image(ImageCodec.interleaved(x, 0), width: x.shape[3], height: x.shape[2], channels: x.shape[1])
            }
            return PNG.grid(x, columns: columns)
        default:
            throw Unsupported(description: "\(format) is not an image format")
        }
    }

    /// The JSON document: `header`'s fields, then the rows under `key` (`points`: the samples).
    public static func json(_ x: Tensor, header: [String: JSONValue], key: String = "points") -> [UInt8] {
        var s = JSONValue.object(header).serialized
        s.removeLast()  // the closing brace
        s += (header.isEmpty ? "" : ",") + "\"\(key)\":" + PointCloud.json(x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])) + "}\n"
        return Array(s.utf8)
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
