/// The formats a data set arrives in — a point cloud as JSON (`{"points": [[x, y], …]}`) or CSV, an image set as
/// IDX, multi-image binary PGM or PPM, or one PNG (each possibly gzip-compressed) — read the same way from an upload (known
/// by its media type) and from a file (known by its name).
public enum DataFormat: Sendable, Equatable {
    case json, csv, images

    /// Media types of image-set uploads.
    public static let imageMediaTypes = ["application/octet-stream", "image/x-portable-graymap", "image/x-portable-pixmap", "image/png",
                                         "application/gzip", "application/x-gzip", "application/x-tar", "application/tar"]

    /// The format of an upload by its `Content-Type`, nil for an unsupported one.
    public init?(mediaType: String) {
        let t = mediaType.lowercased()
        if DataFormat.imageMediaTypes.contains(where: { t.hasPrefix($0) }) { self = .images }
        else if t.hasPrefix("text/csv") { self = .csv }
        else if t.hasPrefix("application/json") { self = .json }
        else { return nil }
    }

    /// The format of a file by its name: `.csv`, images (`.pgm`, `.ppm`, `.png`, `.idx`, `…ubyte`, optionally
    /// `.gz`), else JSON.
    public init(fileName: String) {
        let lower = fileName.lowercased()
        let stem = lower.hasSuffix(".gz") ? String(lower.dropLast(3)) : lower
        if [".pgm", ".ppm", ".png", ".idx", "ubyte", ".tar"].contains(where: { stem.hasSuffix($0) }) || lower.hasSuffix(".tgz") { self = .images }
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
        let r = try readWithClasses(bytes, imageLimits: imageLimits)
        return (r.data, r.labels)
    }

    /// As `readLabelled`, with the names of the classes where the format has them (an archive's folders).
    public func readWithClasses(_ bytes: [UInt8], imageLimits: ImageCodec.Limits = .init()) throws -> (data: Tensor, labels: [Int]?, classNames: [String]?) {
        switch self {
        case .images:
            // A tar archive carries labels in its folder names.
            let b = try ImageCodec.gunzip(bytes, limits: imageLimits)
            if ImageArchive.isTar(b) {
                let a = try ImageArchive.read(b, limits: imageLimits)
                return (a.images, a.labels, a.classNames)
            }
            return (try ImageCodec.read(b, limits: imageLimits), nil, nil)
        case .csv:
            guard let text = String(validating: bytes, as: UTF8.self) else { throw PointCloud.Invalid("not UTF-8 text") }
            let r = try PointCloud.parseCSVLabelled(text)
            return (r.points, r.labels, nil)
        case .json:
            let r = try PointCloud.parseJSONLabelled(bytes)
            return (r.points, r.labels, nil)
        }
    }
}
