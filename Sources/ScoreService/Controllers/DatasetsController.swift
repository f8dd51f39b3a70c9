import Foundation
import HTTPServer
import ScoreEngine

/// Data sets: `GET /datasets`, `POST /datasets` (uploads), `GET /datasets/{id}`, `DELETE /datasets/{id}`,
/// `GET /datasets/{id}/points`.
struct DatasetsController: RouteCollection {
    let store: any RecordStore
    let datasets: DatasetCatalog

    static let uploadParameters: [Parameter] = [
        Parameter("name", .text(maxLength: 100), default: .value("upload"), help: "a name to show beside the id"),
    ]
    static let pointsParameters: [Parameter] = [
        Parameter("n", .integer(1...100_000), default: .value(1000), help: "at most this many points"),
        Parameter("seed", .integer(0...Int(Int32.max)), default: .value(0), help: "seed of a built-in generator's draw"),
    ]

    static let imagesParameters: [Parameter] = [
        Parameter("n", .integer(1...256), default: .value(16), help: "the first n images, tiled in a grid"),
    ]

    func register(on r: Router) {
        r.add("GET", "/datasets") { _, _ in try list() }
        r.add("POST", "/datasets", query: { DatasetsController.uploadParameters }, streamsBody: true) { req, _ in try await upload(req) }
        r.add("GET", "/datasets/{id}") { _, p in try get(p["id"]!) }
        r.add("DELETE", "/datasets/{id}") { _, p in try remove(p["id"]!) }
        r.add("PUT", "/datasets/{id}/labels") { req, p in try setLabels(p["id"]!, req) }
        r.add("GET", "/datasets/{id}/points", query: { DatasetsController.pointsParameters }) { req, p in try points(p["id"]!, req) }
        r.add("GET", "/datasets/{id}/images", query: { DatasetsController.imagesParameters }) { req, p in try images(p["id"]!, req) }
    }

    static func json(_ d: DatasetRecord) -> JSONValue {
        ["id": .string(d.id), "name": .string(d.name), "builtin": false, "kind": .string(d.kind.rawValue), "count": .number(Double(d.count)),
         "shape": .array(d.shape.map { .number(Double($0)) }), "classes": d.classes.map { .number(Double($0)) } ?? .null,
         "created_at": Timestamp.json(d.createdAt), "links": links(d.id, d.kind)]
    }

    static func builtinJSON(_ name: String) -> JSONValue {
        let kind = BuiltinDatasets.kind(name)!
        var o: [String: JSONValue] = ["id": .string(name), "name": .string(name), "builtin": true, "kind": .string(kind.rawValue),
                                      "shape": .array(BuiltinDatasets.itemShape(name)!.map { .number(Double($0)) }), "links": links(name, kind),
                                      "classes": BuiltinDatasets.classes(name).map { .number(Double($0)) } ?? .null]
        if let n = BuiltinDatasets.count(name) { o["count"] = .number(Double(n)) }
        return .object(o)
    }

    static func links(_ id: String, _ kind: DataKind) -> JSONValue {
        kind == .images ? ["self": .string("/datasets/\(id)"), "images": .string("/datasets/\(id)/images")]
                        : ["self": .string("/datasets/\(id)"), "points": .string("/datasets/\(id)/points")]
    }

    func list() throws -> HTTPResponse {
        let builtins = BuiltinDatasets.names.map(DatasetsController.builtinJSON)
        return jsonResponse(200, ["datasets": .array(builtins + (try store.datasets(owner: Caller.current.listingOwner).map(DatasetsController.json)))])
    }

    func get(_ id: String) throws -> HTTPResponse {
        if BuiltinDatasets.kind(id) != nil { return jsonResponse(200, DatasetsController.builtinJSON(id)) }
        guard let d = try datasets.record(id) else { throw APIError.notFound("no data set \(id)") }
        return jsonResponse(200, DatasetsController.json(d))
    }

    /// `POST /datasets?name=…`: a point cloud as JSON (`{"points": [[x, y], …]}`, optionally `"labels": [0, 1, …]`)
    /// or CSV (`text/csv`, optionally a header naming a `label` column), or an image set as IDX or binary PGM (P5,
    /// several images back to back), either possibly gzip-compressed (`application/octet-stream`,
    /// `image/x-portable-graymap`, `application/gzip`); an image set's labels come separately
    /// (`PUT /datasets/{id}/labels`).
    ///
    /// A large body is read as it arrives: the query and the media type are checked before any of it (a refusal
    /// comes at once, and the connection then discards the rest), and a gzip-compressed image set is inflated on
    /// the way, so that its compressed bytes are never held whole.
    func upload(_ req: HTTPRequest) async throws -> HTTPResponse {
        var q = try req.fields()
        let name = try q.take(DatasetsController.uploadParameters).string("name")
        try q.finish()
        let ct = req.headers["Content-Type"] ?? "application/json"
        guard req.bodyStorage.count > 0 else { throw InvalidParameter("body", "is empty") }
        guard let format = DataFormat(mediaType: ct) else {
            throw APIError(status: 415, code: "unsupported_media_type",
                           message: "send points as application/json or text/csv, images as \(DataFormat.imageMediaTypes.joined(separator: ", "))")
        }
        let imageLimits = ImageCodec.Limits(maxImages: 100_000, maxSide: 128)
        let data: Tensor, labels: [Int]?, classNames: [String]?
        do {
            let bytes = try await DatasetsController.receive(req.bodyStorage, inflating: format == .images,
                                                             limit: imageLimits.maxDecompressedBytes)
            (data, labels, classNames) = try format.readWithClasses(bytes, imageLimits: imageLimits)
        } catch let e as Gzip.Failure {
            throw InvalidParameter("body", "gzip: \(e)")
        } catch let e as Gzip.TooLarge {
            throw APIError(status: 413, code: "payload_too_large", message: "body: gzip: \(e)", field: "body")
        } catch let e as PointCloud.Invalid {
            throw InvalidParameter("body", e.description)
        } catch let e as ImageCodec.Invalid {
            throw InvalidParameter("body", e.description)
        } catch let e as ImageCodec.TooLarge {
            throw APIError(status: 413, code: "payload_too_large", message: "body: \(e.description)", field: "body")
        }
        let kind = format.kind
        // What counts against the key's upload limit is what is kept: the decoded items as 4-byte floats, and
        // their labels (a gzip-compressed body can be much smaller).
        let stored = 4 * (data.scalars.count + (labels?.count ?? 0))
        let caller = Caller.current
        let limit = caller.owner != nil ? caller.limits?.maxUploadBytes : nil
        if let owner = caller.owner, let limit {  // refused before the artifact is written, where it can be told
            let used = try store.uploadBytes(owner: owner)
            if used + stored > limit { throw DatasetsController.overLimit(used: used, limit: limit, stored: stored) }
        }
        let rec: DatasetRecord
        do {
            rec = try datasets.add(name: name, kind: kind, data: data, labels: labels, bytes: stored, uploadLimit: limit)
        } catch let e as UploadLimitReached {  // another upload of the key, on this node or another, came first
            throw DatasetsController.overLimit(used: e.used, limit: e.limit, stored: stored)
        }
        var body = DatasetsController.json(rec).object ?? [:]
        if let classNames { body["class_names"] = .array(classNames.map { .string($0) }) }
        return jsonResponse(201, .object(body), headers: [("Location", "/datasets/\(rec.id)")])
    }

    /// A body's bytes as they arrive, inflated on the way when `inflating` and they are gzip-compressed.
    static func receive(_ body: RequestBody, inflating: Bool, limit: Int) async throws -> [UInt8] {
        var offset = 0
        var inflater: Gzip.Inflater? = nil
        var raw: [UInt8] = []
        // The first read has the two bytes that say whether it is gzip (or the whole body, if shorter).
        _ = try await body.available(beyond: 1)
        while true {
            let chunk = try await body.read(at: offset, upTo: 1 << 18)
            if chunk.isEmpty { break }
            if offset == 0 && inflating && Gzip.isCompressed(chunk) { inflater = Gzip.Inflater(limit: limit) }
            offset += chunk.count
            if let inflater { try chunk.withUnsafeBytes { try inflater.feed($0) } } else { raw.append(contentsOf: chunk) }
        }
        return try inflater?.finish() ?? raw
    }

    static func overLimit(used: Int, limit: Int, stored: Int) -> APIError {
        limitReached("this key keeps \(used) bytes of uploads and may keep \(limit); this one decodes to \(stored): delete data sets to make room",
                     retryAfter: 60)
    }

    /// `PUT /datasets/{id}/labels`: an upload's labels, one per item, as an IDX label file (unsigned bytes, as
    /// MNIST's, gzip-compressed or not) or JSON `{"labels": [0, 3, …]}`.
    func setLabels(_ id: String, _ req: HTTPRequest) throws -> HTTPResponse {
        if BuiltinDatasets.kind(id) != nil { throw APIError.conflict("built-in data sets have their labels") }
        guard try datasets.record(id) != nil else { throw APIError.notFound("no data set \(id)") }
        guard !req.body.isEmpty else { throw InvalidParameter("body", "is empty") }
        let labels: [Int]
        if (req.headers["Content-Type"] ?? "").lowercased().hasPrefix("application/json") {
            var f = try Fields(json: try req.jsonBody())
            let v = try f.take([DatasetsController.labelsParameter])
            try f.finish()
            labels = v.ints("labels")
        } else {
            do { labels = try ImageCodec.idxLabels(req.body, maxCount: 1_000_000) } catch let e as ImageCodec.Invalid {
                throw InvalidParameter("body", e.description)
            } catch let e as ImageCodec.TooLarge {
                throw APIError(status: 413, code: "payload_too_large", message: "body: \(e.description)", field: "body")
            }
        }
        return jsonResponse(200, DatasetsController.json(try datasets.setLabels(labels, dataset: id)))
    }

    static let labelsParameter = Parameter.required("labels", .integerList(0...PointCloud.maxLabel, count: 1...1_000_000),
                                                    help: "one label per item")

    func remove(_ id: String) throws -> HTTPResponse {
        if BuiltinDatasets.kind(id) != nil { throw APIError.conflict("built-in data sets cannot be deleted") }
        guard try datasets.record(id) != nil else { throw APIError.notFound("no data set \(id)") }
        try datasets.remove(id)
        return HTTPResponse(status: 204)
    }

    /// The first n images of an image set as one PNG grid, for a look at it.
    func images(_ id: String, _ req: HTTPRequest) throws -> HTTPResponse {
        var q = try req.fields()
        let n = try q.take(DatasetsController.imagesParameters).int("n")
        try q.finish()
        guard let kind = try datasets.kind(of: id) else { throw APIError.notFound("no data set \(id)") }
        if kind == .points { throw APIError.conflict("\(id) holds points, not images: GET /datasets/\(id)/points") }
        let x = try datasets.load(id, size: n, seed: 0)
        let rows = x.rows(0..<min(n, x.shape[0]))
        var h = HTTPHeaders()
        h.add("Content-Type", "image/png")
        h.add("Cache-Control", "no-cache")
        return HTTPResponse(status: 200, headers: h, body: .bytes(try SampleEncoding.image(rows, format: "png", grid: true)))
    }

    /// Up to n points of a data set (fresh draws of a built-in one), for plotting.
    func points(_ id: String, _ req: HTTPRequest) throws -> HTTPResponse {
        var q = try req.fields()
        let v = try q.take(DatasetsController.pointsParameters)
        try q.finish()
        guard let kind = try datasets.kind(of: id) else { throw APIError.notFound("no data set \(id)") }
        if kind == .images { throw APIError.conflict("\(id) holds images, not points") }
        let n = v.int("n")
        let x = try datasets.load(id, size: n, seed: UInt64(v.int("seed")))
        let rows = x.rows(0..<min(n, x.shape[0]))
        let body = SampleEncoding.json(rows, header: ["dataset": .string(id)])
        return HTTPResponse(status: 200, contentType: "application/json", body: body)
    }
}
