import Foundation
import HTTPServer
import ScoreEngine

extension Service {
    /// Media types of image-set uploads.
    static let imageTypes = ["application/octet-stream", "image/x-portable-graymap", "application/gzip", "application/x-gzip"]

    func datasetJSON(_ d: DatasetRecord) -> JSONValue {
        ["id": .string(d.id), "name": .string(d.name), "builtin": false, "kind": .string(d.kind), "count": .number(Double(d.count)),
         "shape": .array(d.shape.map { .number(Double($0)) }), "created_at": Service.iso(d.createdAt),
         "links": d.kind == "images" ? ["self": .string("/datasets/\(d.id)")]
            : ["self": .string("/datasets/\(d.id)"), "points": .string("/datasets/\(d.id)/points")]]
    }

    static func builtinJSON(_ name: String) -> JSONValue {
        if let split = DatasetCatalog.builtinImages[name] {
            return ["id": .string(name), "name": .string(name), "builtin": true, "kind": "images", "shape": [1, 28, 28],
                    "count": .number(split == .train ? 60000 : 10000), "links": ["self": .string("/datasets/\(name)")]]
        }
        return ["id": .string(name), "name": .string(name), "builtin": true, "kind": "points", "shape": [2],
                "links": ["self": .string("/datasets/\(name)"), "points": .string("/datasets/\(name)/points")]]
    }

    func listDatasets() throws -> HTTPResponse {
        let builtins = DatasetCatalog.builtinNames.map(Service.builtinJSON)
        return json(200, ["datasets": .array(builtins + (try store.datasets().map(datasetJSON)))])
    }

    func getDataset(_ id: String) throws -> HTTPResponse {
        if DatasetCatalog.builtinNames.contains(id) { return json(200, Service.builtinJSON(id)) }
        guard let d = try store.dataset(id) else { throw APIError.notFound("no data set \(id)") }
        return json(200, datasetJSON(d))
    }

    /// `POST /datasets?name=…`: a point cloud as JSON (`{"points": [[x, y], …]}`) or CSV (`text/csv`), or an
    /// image set as IDX or binary PGM (P5, several images back to back), either possibly gzip-compressed
    /// (`application/octet-stream`, `image/x-portable-graymap`, `application/gzip`).
    func uploadDataset(_ req: HTTPRequest) throws -> HTTPResponse {
        var q = try query(req)
        let name = try q.string("name", maxLength: 100) ?? "upload"
        try q.finish()
        let ct = req.headers["Content-Type"]?.lowercased() ?? "application/json"
        guard !req.body.isEmpty else { throw APIError.invalid("body", "is empty") }
        let points: Tensor
        var kind = "points"
        do {
            if Service.imageTypes.contains(where: { ct.hasPrefix($0) }) {
                do { points = try ImageCodec.read(req.body, limits: .init(maxImages: 100_000, maxSide: 128)) } catch let e as ImageCodec.Invalid {
                    throw APIError.invalid("body", e.description)
                }
                kind = "images"
            } else if ct.hasPrefix("text/csv") {
                guard let text = String(validating: req.body, as: UTF8.self) else { throw PointCloud.Invalid("not UTF-8 text") }
                points = try PointCloud.parseCSV(text)
            } else if ct.hasPrefix("application/json") {
                points = try PointCloud.parseJSON(req.body)
            } else {
                throw APIError(status: 415, code: "unsupported_media_type",
                               message: "send points as application/json or text/csv, images as \(Service.imageTypes.joined(separator: ", "))")
            }
        } catch let e as PointCloud.Invalid {
            throw APIError.invalid("body", e.description)
        }
        let rec = try datasets.add(name: name, kind: kind, data: points)
        return json(201, datasetJSON(rec), headers: [("Location", "/datasets/\(rec.id)")])
    }

    func removeDataset(_ id: String) throws -> HTTPResponse {
        if DatasetCatalog.builtinNames.contains(id) { throw APIError.conflict("built-in data sets cannot be deleted") }
        guard try store.dataset(id) != nil else { throw APIError.notFound("no data set \(id)") }
        try datasets.remove(id)
        return HTTPResponse(status: 204)
    }

    /// Up to n points of a data set (fresh draws of a built-in one), for plotting.
    func datasetPoints(_ id: String, _ req: HTTPRequest) throws -> HTTPResponse {
        var q = try query(req)
        let n = try q.int("n", 1...100_000, default: 1000)!
        let seed = try q.int("seed", 0...Int(Int32.max), default: 0)!
        try q.finish()
        guard try datasets.exists(id) else { throw APIError.notFound("no data set \(id)") }
        if try datasets.isImages(id) { throw APIError.conflict("\(id) holds images, not points") }
        let x = try datasets.load(id, size: n, seed: UInt64(seed))
        let rows = x.rows(0..<min(n, x.shape[0]))
        let flat = rows.reshaped([rows.shape[0], rows.count / max(rows.shape[0], 1)])
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array("{\"dataset\":\(JSONValue.string(id).serialized),\"points\":\(PointCloud.json(flat))}\n".utf8)))
    }
}
