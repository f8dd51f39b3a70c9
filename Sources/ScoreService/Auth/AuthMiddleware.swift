import Foundation
import HTTPServer
import Logging
import Synchronization

/// API keys on every request: a route that needs a scope needs `Authorization: Bearer <token>` of an unrevoked
/// key with that scope (401 with `WWW-Authenticate: Bearer` without one or with a bad one, 403 for a key
/// without the scope); the handler then runs as that key (`Caller.current`). Keys are asked for when the
/// service listens beyond loopback, when `auth.required` is set, or once any key exists; otherwise (loopback,
/// no keys) requests run as the open caller, as before keys existed. Routes open to anyone (the page, health,
/// the description) and preflights (answered by CORS before this) need none. Tokens are never logged.
struct AuthMiddleware: Middleware {
    let keys: KeyCache
    let alwaysRequired: Bool
    let defaults: KeyLimits
    /// The scope a route needs (nil: anyone), by method and pattern; nil when nothing matched.
    let scope: @Sendable (String, String) -> Scope??

    static let challenge = "Bearer realm=\"scored\""

    func respond(to request: HTTPRequest, route: String, next: @Sendable () async -> HTTPResponse) async -> HTTPResponse {
        // Unknown paths and methods get their 404 or 405 whoever asks; open routes need nobody.
        guard let needed = scope(request.method, route), let scope = needed else { return await next() }
        let header = request.headers["Authorization"]
        do {
            // Open: loopback, no keys, and a request addressed to a loopback name (a page of another site that
            // rebinds its name to 127.0.0.1 does not qualify). Key management is never open: the first key is
            // made with `scored keys create`.
            if header == nil, scope != .admin, !alwaysRequired, AuthMiddleware.isLoopbackHost(request.headers["Host"]), try !keys.hasKeys() {
                return await next()
            }
            guard let header else { return AuthMiddleware.unauthorized(nil, "this route needs an API key: Authorization: Bearer <token>") }
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                return AuthMiddleware.unauthorized("invalid_request", "Authorization must be Bearer <token>")
            }
            guard let (id, secret) = APIToken.parse(String(parts[1]).trimmingCharacters(in: .whitespaces)),
                  let key = try keys.key(id), APIToken.matches(secret, key.secretHash) else {
                return AuthMiddleware.unauthorized("invalid_token", "the API key is not valid")
            }
            guard !key.isRevoked else { return AuthMiddleware.unauthorized("invalid_token", "the API key was revoked") }
            if let target = key.actsFor, try keys.key(target)?.isRevoked != false {
                return AuthMiddleware.unauthorized("invalid_token", "the key this one acts for was revoked")
            }
            guard key.scope.allows(scope) else {
                var e = APIError(status: 403, code: "forbidden",
                                 message: "this needs a key with scope \(scope.rawValue) (this key's scope is \(key.scope.rawValue))")
                e.headers = [("WWW-Authenticate", "\(AuthMiddleware.challenge), error=\"insufficient_scope\", scope=\"\(scope.rawValue)\"")]
                return e.response
            }
            return await Caller.$current.withValue(Caller(key: key, limits: key.limits.over(defaults))) { await next() }
        } catch {
            return APIError(status: 500, code: "internal", message: "the key store failed: \(error)").response
        }
    }

    /// Whether a Host header names this machine's loopback interface (`localhost`, 127.0.0.0/8, `[::1]`, with
    /// or without a port).
    static func isLoopbackHost(_ host: String?) -> Bool {
        guard var h = host?.lowercased() else { return false }
        if h.hasPrefix("[") { return h.hasPrefix("[::1]") }
        if let colon = h.lastIndex(of: ":") { h = String(h[..<colon]) }
        return h == "localhost" || ServiceConfig.isLoopbackAddress(h)
    }

    static func unauthorized(_ error: String?, _ message: String) -> HTTPResponse {
        var e = APIError(status: 401, code: "unauthorized", message: message)
        e.headers = [("WWW-Authenticate", challenge + (error.map { ", error=\"\($0)\"" } ?? ""))]
        return e.response
    }
}
