import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A response: status, headers, and a body given whole or written as a stream (chunked encoding).
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Written by the closure through the writer, sent with `Transfer-Encoding: chunked`. The closure runs as a
        /// task of its own; it should `await` its writes (and anything else it waits for), so that a stream open
        /// for hours holds no thread.
        case stream(@Sendable (ResponseStream) async throws -> Void)
    }

    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, contentType: String, body: [UInt8]) {
        var h = HTTPHeaders()
        h.add("Content-Type", contentType)
        self.init(status: status, headers: h, body: .bytes(body))
    }

    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }
}

/// Writes a streamed body. Each write sends one chunk as soon as the socket takes it (server-sent events arrive as
/// written); a write waits while more than the connection's high-water mark is still unsent (a slow reader), and
/// throws once the connection is gone.
public protocol ResponseStream: AnyObject, Sendable {
    /// Suspends the task (not a thread) while the reader is behind.
    func write(_ bytes: [UInt8]) async throws
    /// Blocks the calling thread while the reader is behind (for producers that are not async).
    func write(_ bytes: [UInt8]) throws
    /// False once the peer has closed its side (checked without reading).
    var isConnected: Bool { get }
}

extension ResponseStream {
    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }
    public func write(_ text: String) throws { try write(Array(text.utf8)) }
}

/// Answers requests. Runs as a task on the server's handler threads (`HandlerPool`): work that waits (for a job, for
/// events) should `await`, not block, so that it holds no thread.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) async -> HTTPResponse
}

/// The IMF-fixdate of the current second, formatted once per second.
enum HTTPDate {
    private static let cache = NSLock()
    nonisolated(unsafe) private static var second = 0
    nonisolated(unsafe) private static var text = ""

    static func now() -> String {
        let t = Int(Date().timeIntervalSince1970)
        cache.lock()
        defer { cache.unlock() }
        if t != second {
            var tt = time_t(t)
            var tmv = tm()
            gmtime_r(&tt, &tmv)
            var buf = [CChar](repeating: 0, count: 64)
            strftime(&buf, buf.count, "%a, %d %b %Y %H:%M:%S GMT", &tmv)
            text = cString(buf)
            second = t
        }
        return text
    }
}
