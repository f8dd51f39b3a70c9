import Foundation
import HTTPServer
import Logging

/// Counts every answer and its latency under its route pattern (`GET /metrics`).
struct MetricsMiddleware: Middleware {
    let metrics: Metrics

    func respond(to request: HTTPRequest, route: String, next: @Sendable () async -> HTTPResponse) async -> HTTPResponse {
        let start = Date()
        let response = await next()
        metrics.request(route: route, method: request.method, status: response.status, seconds: Date().timeIntervalSince(start))
        return response
    }
}

/// Cross-origin requests from browsers (CORS), for the configured origins only: a preflight (`OPTIONS` with
/// `Origin` and `Access-Control-Request-Method`) of a route is answered 204 with the methods the route takes and
/// the request headers the API reads, or 403 for another origin, method or header; the answers to the allowed
/// origins' requests name them in `Access-Control-Allow-Origin` and expose the API's own headers. Without
/// configured origins it does nothing (a preflight then meets the router's 405).
struct CORSMiddleware: Middleware {
    let allowedOrigins: [String]
    /// The methods a route pattern takes.
    let methods: @Sendable (String) -> [String]

    static let allowedHeaders = ["content-type", "idempotency-key", "authorization", "last-event-id", "accept"]
    static let exposedHeaders = "Location, Content-Location, Retry-After, X-Job-Id, X-Model-Id"

    func allows(_ origin: String) -> Bool { allowedOrigins.contains("*") || allowedOrigins.contains(origin) }

    func respond(to request: HTTPRequest, route: String, next: @Sendable () async -> HTTPResponse) async -> HTTPResponse {
        guard !allowedOrigins.isEmpty, let origin = request.headers["Origin"] else { return await next() }
        if request.method == "OPTIONS", let wanted = request.headers["Access-Control-Request-Method"], route != "unmatched" {
            let methods = methods(route)
            let headers = (request.headers["Access-Control-Request-Headers"] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
            guard allows(origin) else { return APIError(status: 403, code: "forbidden", message: "origin \(origin) may not call this API").response }
            guard methods.contains(wanted) else {
                return APIError(status: 403, code: "forbidden", message: "\(wanted) is not allowed on \(request.path) (\(methods.joined(separator: ", ")))").response
            }
            if let other = headers.first(where: { !CORSMiddleware.allowedHeaders.contains($0) }) {
                return APIError(status: 403, code: "forbidden", message: "request header \(other) is not allowed").response
            }
            var h = HTTPHeaders()
            h.add("Access-Control-Allow-Origin", origin)
            h.add("Access-Control-Allow-Methods", methods.joined(separator: ", "))
            if !headers.isEmpty { h.add("Access-Control-Allow-Headers", headers.joined(separator: ", ")) }
            h.add("Access-Control-Max-Age", "600")
            h.add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
            return HTTPResponse(status: 204, headers: h, body: .bytes([]))
        }
        var response = await next()
        if allows(origin) {
            response.headers.set("Access-Control-Allow-Origin", origin)
            response.headers.add("Access-Control-Expose-Headers", CORSMiddleware.exposedHeaders)
        }
        response.headers.add("Vary", "Origin")
        return response
    }
}

/// One debug line per request, and an error line for every 500.
struct AccessLogMiddleware: Middleware {
    let logger: Logger

    func respond(to request: HTTPRequest, route: String, next: @Sendable () async -> HTTPResponse) async -> HTTPResponse {
        let response = await next()
        if response.status >= 500 {
            logger.error("\(request.method) \(request.path) \(response.status)", metadata: ["route": "\(route)", "peer": "\(request.remoteAddress)"])
        } else {
            logger.debug("\(request.method) \(request.path) \(response.status)", metadata: ["peer": "\(request.remoteAddress)"])
        }
        return response
    }
}
