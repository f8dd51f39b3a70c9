/// The formats a data set arrives in — a point cloud as JSON (`{"points": [[x, y], …]}`) or CSV, an image set as
/// IDX or multi-image binary PGM (either possibly gzip-compressed) — read the same way from an upload (known
/// by its media type) and from a file (known by its name).
public enum DataFormat: Sendable, Equatable {
    case json, csv, images

    /// Media types of image-set uploads.
    public static let imageMediaTypes = ["application/octet-stream", "image/x-portable-graymap", "application/gzip", "application/x-gzip"]

    /// The format of an upload by its `Content-Type`, nil for an unsupported one.
    public init?(mediaType: String) {
        let t = mediaType.lowercased()
        if DataFormat.imageMediaTypes.contains(where: { t.hasPrefix($0) }) { self = .images }
        else if t.hasPrefix("text/csv") { self = .csv }
        else if t.hasPrefix("application/json") { self = .json }
        else { return nil }
    }

    /// The format of a file by its name: `.csv`, images (`.pgm`, `.idx`, `…ubyte`, optionally `.gz`), else JSON.
    public init(fileName: String) {
        let lower = fileName.lowercased()
        let stem = lower.hasSuffix(".gz") ? String(lower.dropLast(3)) : lower
        if stem.hasSuffix(".pgm") || stem.hasSuffix(".idx") || stem.hasSuffix("ubyte") { self = .images }
        else if lower.hasSuffix(".csv") { self = .csv }
        else { self = .json }
    }

    public var kind: DataKind { self == .images ? .images : .points }

    /// The data: [n, d] points or [n, C, H, W] images; malformed input throws `PointCloud.Invalid` or
    /// `ImageCodec.Invalid` with the reason.
    public func read(_ bytes: [UInt8], imageLimits: ImageCodec.Limits = .init()) throws -> Tensor {
        try readLabelled(bytes, imageLimits: imageLimits).data
    }

    /// The data and its labels where the format carries them (a CSV `label` column, JSON `labels`; image
    /// sets get theirs separately, as an IDX label file).
    public func readLabelled(_ bytes: [UInt8], imageLimits: ImageCodec.Limits = .init()) throws -> (data: Tensor, labels: [Int]?) {
        switch self {
        case .images: return (try ImageCodec.read(bytes, limits: imageLimits), nil)
        case .csv:
            guard let text = String(validating: bytes, as: UTF8.self) else { throw PointCloud.Invalid("not UTF-8 text") }
            let r = try PointCloud.parseCSVLabelled(text)
            return (r.points, r.labels)
        case .json:
            let r = try PointCloud.parseJSONLabelled(bytes)
            return (r.points, r.labels)
        }
    }
}
