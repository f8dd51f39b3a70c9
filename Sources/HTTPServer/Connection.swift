import Foundation

/// Answers requests. Called on the connection's thread; may block (the other connections have their own).
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest) -> HTTPResponse
}

/// One client connection, served on its own thread: requests are read, answered and written in order
/// (pipelined requests wait in the buffer), until the client closes, asks to close, falls idle past the
/// idle timeout, or sends something malformed (answered with a 4xx/5xx and `Connection: close`).
final class Connection: @unchecked Sendable {
    let socket: ConnectedSocket
    let server: HTTPServer
    private let state = NSLock()
    private var busy = false
    private var closing = false
    /// Set when the connection closes with request bytes possibly unread (see `lingeringClose`).
    private var linger = false

    /// Lingering close (as nginx's lingering_close): at most this long in all, this long without data, this
    /// many bytes discarded.
    static let lingerTotal = 2.0, lingerIdle = 0.5, lingerBytes = 4 << 20

    init(socket: ConnectedSocket, server: HTTPServer) {
        self.socket = socket
        self.server = server
    }

    /// Asks the connection to finish: an idle one is woken and closes; a busy one closes after its response.
    func drain() {
        state.lock()
        closing = true
        let idle = !busy
        state.unlock()
        if idle { socket.shutdownRead() }
    }

    private func setBusy(_ b: Bool) -> Bool {
        state.lock()
        defer { state.unlock() }
        busy = b
        return closing
    }

    func run() {
        let config = server.configuration
        socket.setSendTimeout(config.sendTimeout)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        defer {
            if linger { lingeringClose() }
            socket.close()
        }
        while true {
            // 1. The head: wait up to the idle timeout for its first byte, then the request timeout.
            var requestDeadline = buffer.isEmpty ? Double.infinity : Clock.now() + config.requestTimeout
            let idleDeadline = Clock.now() + config.idleTimeout
            var scanned = 0, checked = 0
            var headEnd: Int? = nil
            while true {
                if let e = HTTPParser.headEnd(buffer, from: scanned) { headEnd = e; break }
                scanned = max(0, buffer.count - 3)
                do { try HTTPParser.checkPartial(buffer, from: checked, limits: config.limits) } catch let f as HTTPParser.Failure {
                    fail(f)
                    return
                } catch { return }
                checked = buffer.count
                if setBusy(false) { return }
                let deadline = buffer.isEmpty ? idleDeadline : requestDeadline
                switch socket.read(into: &buffer, deadline: deadline) {
                case .data:
                    if requestDeadline == .infinity { requestDeadline = Clock.now() + config.requestTimeout }
                case .eof, .failed:
                    return
                case .timeout:
                    if !buffer.isEmpty { fail(HTTPParser.Failure(408, "request not received in time")) }
                    return
                }
            }
            let draining = setBusy(true)
            let head: HTTPParser.Head
            do {
                head = try HTTPParser.parseHead(buffer[0..<headEnd!], limits: config.limits)
            } catch let f as HTTPParser.Failure {
                fail(f)
                return
            } catch { return }
            buffer.removeFirst(headEnd!)
            // 2. The body.
            var body: [UInt8] = []
            if head.framing != .none {
                if head.expectContinue && buffer.isEmpty {
                    do { try socket.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) } catch { return }
                }
                switch head.framing {
                case .length(let n):
                    while buffer.count < n {
                        guard readMore(&buffer, requestDeadline) else { return }
                    }
                    body = Array(buffer[0..<n])
                    buffer.removeFirst(n)
                case .chunked:
                    var decoder = HTTPParser.ChunkedDecoder(maxBody: config.limits.maxBodyBytes)
                    var pos = 0
                    while true {
                        do { pos = try decoder.feed(buffer, from: pos) } catch let f as HTTPParser.Failure {
                            fail(f)
                            return
                        } catch { return }
                        if decoder.isDone { break }
                        guard readMore(&buffer, requestDeadline) else { return }
                    }
                    body = decoder.body
                    buffer.removeFirst(pos)
                case .none: break
                }
            }
            // 3. Answer.
            var request = HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers,
                                      body: body, remoteAddress: socket.peer)
            request.isClientConnected = { [socket] in socket.isOpen }
            let response = server.responder.respond(to: request)
            let keepAlive = request.keepAlive && !draining && !server.isDraining
            guard write(response, for: request, keepAlive: keepAlive) else { return }
            if !keepAlive {
                linger = !buffer.isEmpty  // pipelined requests that will not be answered
                return
            }
        }
    }

    /// Reads more of the request; answers 408 when the request timeout passes.
    private func readMore(_ buffer: inout [UInt8], _ deadline: Double) -> Bool {
        switch socket.read(into: &buffer, deadline: deadline) {
        case .data: return true
        case .timeout:
            fail(HTTPParser.Failure(408, "request not received in time"))
            return false
        case .eof, .failed: return false
        }
    }

    /// Answers a malformed or refused request and closes (lingering: the rest of the request may be on its way).
    private func fail(_ f: HTTPParser.Failure) {
        server.metrics?(f.status)
        var r = server.errorResponse(f.status, f.message)
        r.headers.set("Connection", "close")
        _ = write(r, for: nil, keepAlive: false)
        linger = true
    }

    /// After an answer that closes the connection while request bytes may still arrive (a 414 or 431 to a
    /// client still sending): sends FIN, then reads and discards for a bounded time, so that closing does not
    /// reset the connection (a reset makes the client's TCP drop the answer it has not read yet).
    private func lingeringClose() {
        socket.shutdownWrite()
        let end = Clock.now() + Connection.lingerTotal
        var discarded = 0
        var scratch: [UInt8] = []
        scratch.reserveCapacity(65536)
        while discarded < Connection.lingerBytes {
            scratch.removeAll(keepingCapacity: true)
            let deadline = min(end, Clock.now() + Connection.lingerIdle)
            guard case .data = socket.read(into: &scratch, deadline: deadline) else { return }
            discarded += scratch.count
        }
    }

    /// Writes a response; false when the connection must close (write failed or the stream threw).
    private func write(_ response: HTTPResponse, for request: HTTPRequest?, keepAlive: Bool) -> Bool {
        let isHead = request?.method == "HEAD"
        let http10 = request.map { $0.version.minor == 0 } ?? false
        let noBody = response.status < 200 || response.status == 204 || response.status == 304
        var head = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        var headers = response.headers
        headers.remove("Content-Length")
        headers.remove("Transfer-Encoding")
        if headers["Date"] == nil { headers.add("Date", HTTPDate.now()) }
        if headers["Server"] == nil { headers.add("Server", server.configuration.serverName) }
        var closeAfter = !keepAlive
        switch response.body {
        case .bytes(let b):
            if !noBody { headers.add("Content-Length", String(b.count)) }
        case .stream:
            if http10 { closeAfter = true } else if !noBody { headers.add("Transfer-Encoding", "chunked") }
        }
        if closeAfter { headers.set("Connection", "close") } else if http10 { headers.set("Connection", "keep-alive") }
        for f in headers.fields { head += "\(f.name): \(f.value)\r\n" }
        head += "\r\n"
        do {
            switch response.body {
            case .bytes(let b):
                var out = Array(head.utf8)
                if !isHead && !noBody { out.append(contentsOf: b) }
                try socket.write(out)
            case .stream(let produce):
                try socket.write(Array(head.utf8))
                if !isHead && !noBody {
                    let stream = ChunkedStream(socket: socket, chunked: !http10)
                    try produce(stream)
                    try stream.finish()
                }
            }
        } catch {
            return false
        }
        return !closeAfter
    }
}

/// A streamed body: each write is one chunk (or raw bytes for HTTP/1.0, whose end is the connection's end).
final class ChunkedStream: ResponseStream, @unchecked Sendable {
    let socket: ConnectedSocket
    let chunked: Bool

    init(socket: ConnectedSocket, chunked: Bool) {
        self.socket = socket
        self.chunked = chunked
    }

    func write(_ bytes: [UInt8]) throws {
        if bytes.isEmpty { return }
        if chunked {
            var out = Array(String(bytes.count, radix: 16).utf8) + [0x0D, 0x0A]
            out.append(contentsOf: bytes)
            out.append(contentsOf: [0x0D, 0x0A])
            try socket.write(out)
        } else {
            try socket.write(bytes)
        }
    }

    func finish() throws {
        if chunked { try socket.write(Array("0\r\n\r\n".utf8)) }
    }

    var isConnected: Bool { socket.isOpen }
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
