import Foundation
import HTTPServer
import Logging

/// Counts every answer and its latency under its route pattern (`GET /metrics`).
struct MetricsMiddleware: Middleware {
    let metrics: Metrics

    func respond(to request: HTTPRequest, route: String, next: () -> HTTPResponse) -> HTTPResponse {
        let start = Date()
        let response = next()
        metrics.request(route: route, method: request.method, status: response.status, seconds: Date().timeIntervalSince(start))
        return response
    }
}

/// One debug line per request, and an error line for every 500.
struct AccessLogMiddleware: Middleware {
    let logger: Logger

    func respond(to request: HTTPRequest, route: String, next: () -> HTTPResponse) -> HTTPResponse {
        let response = next()
        if response.status >= 500 {
            logger.error("\(request.method) \(request.path) \(response.status)", metadata: ["route": "\(route)", "peer": "\(request.remoteAddress)"])
        } else {
            logger.debug("\(request.method) \(request.path) \(response.status)", metadata: ["peer": "\(request.remoteAddress)"])
        }
        return response
    }
}
