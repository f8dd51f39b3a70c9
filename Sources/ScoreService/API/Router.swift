import Foundation
import HTTPServer
import Logging

/// Routes requests by method and path pattern (`/jobs/{id}/events`): 404 for unknown paths, 405 with
/// `Allow` for known paths with another method, HEAD answered as GET. Handlers throw `APIError`s; anything
/// else becomes a 500. Every answer is counted in the metrics under its route pattern.
final class Router: HTTPResponder, @unchecked Sendable {
    typealias Handler = @Sendable (HTTPRequest, [String: String]) throws -> HTTPResponse

    struct Route {
        let method: String
        let pattern: String
        let segments: [Substring]
        let handler: Handler
    }

    private(set) var routes: [Route] = []
    let metrics: Metrics
    let logger: Logger

    init(metrics: Metrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        routes.append(Route(method: method, pattern: pattern, segments: pattern.split(separator: "/"), handler: handler))
    }

    /// Every (method, pattern) answered, for the OpenAPI check.
    var table: [(method: String, pattern: String)] { routes.map { ($0.method, $0.pattern) } }

    static func match(_ route: Route, _ parts: [Substring]) -> [String: String]? {
        guard route.segments.count == parts.count else { return nil }
        var params: [String: String] = [:]
        for (s, p) in zip(route.segments, parts) {
            if s.first == "{" && s.last == "}" {
                guard !p.isEmpty else { return nil }
                params[String(s.dropFirst().dropLast())] = String(p)
            } else if s != p {
                return nil
            }
        }
        return params
    }

    func respond(to request: HTTPRequest) -> HTTPResponse {
        let start = Date()
        let parts = request.path.split(separator: "/")
        let method = request.method == "HEAD" ? "GET" : request.method
        var pattern = "unmatched"
        var response: HTTPResponse
        let candidates = routes.compactMap { r in Router.match(r, parts).map { (r, $0) } }
        if let (route, params) = candidates.first(where: { $0.0.method == method }) {
            pattern = route.pattern
            do {
                response = try route.handler(request, params)
            } catch let e as APIError {
                response = e.response
            } catch {
                logger.error("handler failed", metadata: ["route": "\(route.pattern)", "error": "\(error)"])
                response = APIError(status: 500, code: "internal", message: "\(error)").response
            }
        } else if !candidates.isEmpty {
            pattern = candidates[0].0.pattern
            var allowed = Set(candidates.map(\.0.method))
            if allowed.contains("GET") { allowed.insert("HEAD") }
            var e = APIError(status: 405, code: "method_not_allowed", message: "\(request.method) is not allowed on \(request.path)")
            e.headers = [("Allow", allowed.sorted().joined(separator: ", "))]
            response = e.response
        } else {
            response = APIError.notFound("no route for \(request.path)").response
        }
        metrics.request(route: pattern, method: request.method, status: response.status, seconds: Date().timeIntervalSince(start))
        logger.debug("\(request.method) \(request.target) \(response.status)", metadata: ["peer": "\(request.remoteAddress)"])
        return response
    }
}
