import HTTPServer
import ScoreEngine

/// An error answered as `{"error": {"code": "…", "message": "…", "field": "…"}}` with its HTTP status.
struct APIError: Error {
    let status: Int
    let code: String
    let message: String
    var field: String? = nil
    var headers: [(String, String)] = []

    static func invalid(_ field: String, _ message: String) -> APIError {
        APIError(status: 400, code: "invalid_parameter", message: "\(field): \(message)", field: field)
    }
    static func notFound(_ what: String) -> APIError { APIError(status: 404, code: "not_found", message: what) }
    static func conflict(_ what: String) -> APIError { APIError(status: 409, code: "conflict", message: what) }

    var response: HTTPResponse {
        var e: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { e["field"] = .string(field) }
        var r = jsonResponse(status, ["error": .object(e)])
        for (k, v) in headers { r.headers.add(k, v) }
        return r
    }

    /// The body of errors the HTTP layer answers itself (malformed requests, limits).
    static func httpLayer(_ status: Int, _ message: String) -> HTTPResponse {
        let code: String
        switch status {
        case 408: code = "request_timeout"
        case 413: code = "body_too_large"
        case 414: code = "uri_too_long"
        case 431: code = "headers_too_large"
        case 503: code = "unavailable"
        case 505: code = "http_version_not_supported"
        default: code = "bad_request"
        }
        return APIError(status: status, code: code, message: message).response
    }
}

/// A JSON response.
func jsonResponse(_ status: Int, _ value: JSONValue, headers extra: [(String, String)] = []) -> HTTPResponse {
    var h = HTTPHeaders()
    h.add("Content-Type", "application/json")
    for (k, v) in extra { h.add(k, v) }
    return HTTPResponse(status: status, headers: h, body: .bytes(Array((value.serialized + "\n").utf8)))
}
