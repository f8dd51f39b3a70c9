import Foundation
import HTTPServer
import ScoreEngine

/// API keys, for admin keys: `GET /keys`, `POST /keys` (the token is in this answer only), `DELETE /keys/{id}`
/// (revokes it). `scored keys` does the same on the store directly.
struct KeysController: RouteCollection {
    let store: any RecordStore
    let keys: KeyCache

    func register(on r: Router) {
        r.add("GET", "/keys", access: .scope(.admin)) { _, _ in jsonResponse(200, ["keys": .array(try store.keys().map(\.json))]) }
        r.add("POST", "/keys", access: .scope(.admin)) { req, _ in
            let (key, token) = try APIKeys.create(in: store, request: try req.jsonBody())
            keys.forget(key.id)
            var body = key.json.object ?? [:]
            body["token"] = .string(token)
            return jsonResponse(201, .object(body), headers: [("Location", "/keys/\(key.id)"), ("Cache-Control", "no-store")])
        }
        r.add("DELETE", "/keys/{id}", access: .scope(.admin)) { _, p in
            let id = p["id"]!
            guard try store.key(id) != nil else { throw APIError.notFound("no key \(id)") }
            _ = try store.revokeKey(id, at: Date().timeIntervalSince1970)
            keys.forget(id)
            return HTTPResponse(status: 204)
        }
    }
}

/// Making keys, over HTTP and on the command line alike.
public enum APIKeys {
    /// A new key's fields.
    public static let parameters: [Parameter] = [
        .required("name", .text(maxLength: 100), help: "a name to tell the key by"),
        .required("scope", .choice(Scope.allCases.map(\.rawValue)),
                  help: "read: GET its own resources; submit: also train, sample, upload, cancel and delete its own; admin: everything, keys too"),
        Parameter("max_jobs", .integer(1...1_000_000), default: .none("auth.max_jobs"), help: "queued and running jobs at once"),
        Parameter("max_upload_bytes", .integer(0...(1 << 50)), default: .none("auth.max_upload_bytes"), help: "bytes of uploaded data sets kept"),
        Parameter("max_samples", .integer(1...10_000_000), default: .none("auth.max_samples"), help: "samples of one request"),
        Parameter("acts_for", .text(maxLength: 100), default: .none("its own"),
                  help: "another key's id: this key sees and makes that key's jobs, models and uploads (e.g. a read key for a dashboard)"),
    ]

    /// Creates a key from a request's fields; returns it and its token (shown once, never stored).
    public static func create(in store: any RecordStore, request: JSONValue, now: Double = Date().timeIntervalSince1970) throws -> (APIKeyRecord, String) {
        var f = try Fields(json: request)
        let v = try f.take(parameters)
        try f.finish()
        func limit(_ k: String) -> Int? { v.has(k) ? v.int(k) : nil }
        var actsFor: String? = nil
        if v.has("acts_for") {
            guard let other = try store.key(v.string("acts_for")), !other.isRevoked else {
                throw InvalidParameter("acts_for", "no unrevoked key \(v.string("acts_for"))")
            }
            actsFor = other.owner  // the owner it acts for, not a chain
        }
        let (id, token, hash) = APIToken.generate()
        let key = APIKeyRecord(id: id, name: v.string("name"), scope: Scope(rawValue: v.string("scope"))!, secretHash: hash, createdAt: now,
                               revokedAt: nil, limits: KeyLimits(maxJobs: limit("max_jobs"), maxUploadBytes: limit("max_upload_bytes"),
                                                                 maxSamples: limit("max_samples")), actsFor: actsFor)
        try store.insert(key)
        return (key, token)
    }
}
