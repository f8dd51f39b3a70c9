import CEpoll
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One client connection, driven by its loop: a non-blocking socket in the loop's epoll set, the parser fed as
/// bytes arrive, each complete request answered by a task on the responder, the answer written as the socket
/// accepts it. Requests on a connection are answered one at a time and in order (pipelined ones wait in the buffer
/// until the answer before them has been sent), until the client closes, asks to close, falls idle past the idle
/// timeout, or sends something malformed (answered with a 4xx/5xx and `Connection: close`, then a lingering
/// close). With TLS, the bytes pass through a `TLSSession` on the way in and out; the handshake has its own
/// deadline.
///
/// The loop waits for writability only while the socket's buffer is full, and for readability except when the
/// client has sent more than `inputCap` ahead of the answers (and after its end of stream).
final class Connection: @unchecked Sendable {
    let fd: Int32
    let peer: String
    let loop: EventLoop
    let server: HTTPServer
    private let tls: TLSSession?
    /// The connection's key in its loop (0 until `start`).
    private var token: UInt64 = 0
    private var wantRead = false, wantWrite = false
    /// What the loop's epoll set holds for the socket now.
    private var watched: UInt32 = 0

    /// `sending`: a keep-alive answer going out (the next request may be read ahead); `closing`: the last answer
    /// going out, the connection closes after it.
    private enum Phase { case handshake, head, body, handling, responding, sending, closing, lingering, closed }
    private var phase: Phase {
        didSet { if isClosed { phase = .closed } }
    }
    /// Set once by `close`; no later change of phase undoes it.
    private var isClosed = false
    /// The client has ended its side (end of stream, or TLS close_notify).
    private var endOfInput = false

    /// Plaintext received and not yet consumed.
    private var input: [UInt8] = []
    /// Bytes waiting to be sent (ciphertext with TLS), from `sent` on.
    private var output: [UInt8] = []
    private var sent = 0
    /// Input read ahead of the answers (pipelined requests) beyond which reading stops until they are answered.
    static let inputCap = 1 << 16

    // The request being read.
    private var scanned = 0, checked = 0
    private var head: HTTPParser.Head?
    private var chunked: HTTPParser.ChunkedDecoder?
    private var chunkedPosition = 0
    /// Where a large body is being written as it arrives (and the body, if handed over before its end).
    private var spool = BodySpool()
    /// The client expects `100 Continue` before sending that body: sent once its handler first waits for it (an
    /// answer before then, such as a refusal, goes without it, and the client need not send the body at all).
    private var continuePending = false
    /// The answer came before the body: whatever more of it arrives is read and discarded until the close.
    private var discardInput = false

    /// When reading must have made progress (idle, request, handshake or linger deadline), monotonic seconds.
    private var readDeadline = Double.infinity
    /// 408 for a request in progress; nil: close silently.
    private var readDeadlineStatus: Int? = nil
    /// When a blocked write must have made progress (a reader that does not read).
    private var sendDeadline = Double.infinity
    private var lingerEnd = Double.infinity, lingerDiscarded = 0

    /// What to do once the output is sent.
    private enum AfterFlush { case nothing, nextRequest, close, linger }
    private var afterFlush = AfterFlush.nothing
    private var draining = false
    /// Stream writers waiting for the output to fall below the high-water mark.
    private var writers: [(Bool) -> Void] = []
    static let highWater = 256 << 10

    /// Set under the lock once the client is gone or the descriptor closed, so that other threads asking whether
    /// the client is still there do not poll a descriptor number that may have been reused.
    private let stateLock = NSLock()
    private var closedFlag = false
    private var endFlag = false

    /// Lingering close (as nginx's lingering_close): at most this long in all, this long without data, this
    /// many bytes discarded.
    static let lingerTotal = 2.0, lingerIdle = 0.5, lingerBytes = 4 << 20

    init(fd: Int32, peer: String, loop: EventLoop, server: HTTPServer, tls: TLSContext?) throws {
        self.fd = fd
        self.peer = peer
        self.loop = loop
        self.server = server
        self.tls = try tls.map { try TLSSession(context: $0) }
        phase = tls == nil ? .head : .handshake
        SocketIO.setNoDelay(fd)
    }

    // MARK: readiness

    /// Registers with the loop and starts reading (on the loop's thread).
    func start() {
        readDeadline = Clock.now() + (tls == nil ? server.configuration.idleTimeout : server.configuration.tls?.handshakeTimeout ?? 10)
        token = loop.register(self)
        startReading()
    }

    /// What the loop saw on the socket (on the loop's thread): an error or hang-up goes to whichever side is
    /// watched, where the failing call closes the connection.
    func handle(events: UInt32) {
        let trouble = EPOLLERR.rawValue | EPOLLHUP.rawValue
        if wantRead && events & (EPOLLIN.rawValue | trouble) != 0 { onReadable() }
        if wantWrite && !isClosed && events & (EPOLLOUT.rawValue | trouble) != 0 { flush() }
    }

    private func updateInterest() {
        guard token != 0, !isClosed else { return }
        let events = (wantRead ? EPOLLIN.rawValue : 0) | (wantWrite ? EPOLLOUT.rawValue : 0)
        loop.watch(fd, token: token, from: watched, to: events)
        watched = events
    }

    private func startReading() {
        guard !wantRead, !endOfInput, phase != .closed else { return }
        wantRead = true
        updateInterest()
    }

    private func stopReading() {
        guard wantRead else { return }
        wantRead = false
        updateInterest()
    }

    private func startWriting() {
        guard !wantWrite, phase != .closed else { return }
        wantWrite = true
        updateInterest()
    }

    private func stopWriting() {
        guard wantWrite else { return }
        wantWrite = false
        updateInterest()
    }

    /// Closes now: out of the loop, and the descriptor closed.
    func close() {
        guard !isClosed else { return }
        wantRead = false
        wantWrite = false
        updateInterest()
        isClosed = true
        phase = .closed
        if token != 0 { loop.unregister(token) }
        let waiting = writers
        writers.removeAll()
        for w in waiting { w(false) }
        spool.drop("the connection closed", server)
        // Counted as closed before the client can see it closed.
        server.connectionClosed()
        // Under the lock, so that a thread asking `isClientConnected` never polls the number once reused.
        stateLock.lock()
        closedFlag = true
        _ = Glibc.close(fd)
        stateLock.unlock()
    }

    /// Whether the client still holds the connection (from any thread).
    var isClientConnected: Bool {
        stateLock.lock()
        defer { stateLock.unlock() }
        return !closedFlag && !endFlag && SocketIO.isOpen(fd)
    }

    // MARK: reading

    private func onReadable() {
        var end = false
        var received = 0
        let discard = phase == .closing || phase == .lingering || discardInput
        // Reads what is there (at most 1 MiB per wake-up, so that one fast sender does not starve the loop).
        while received < 1 << 20 {
            let n = recv(fd, loop.scratch, EventLoop.scratchSize, 0)
            if n > 0 {
                received += n
                if let tls {
                    tls.receive(UnsafeRawBufferPointer(start: loop.scratch, count: n))
                } else if discard {
                    lingerDiscarded += n
                } else {
                    input.append(contentsOf: UnsafeBufferPointer(start: loop.scratch, count: n))
                }
                continue
            }
            if n == 0 { end = true; break }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
            close()
            return
        }
        if let tls, received > 0 {
            do {
                if discard {
                    var dropped: [UInt8] = []
                    try tls.read(into: &dropped, scratch: loop.scratch, capacity: EventLoop.scratchSize)
                    lingerDiscarded += dropped.count
                } else {
                    try tls.read(into: &input, scratch: loop.scratch, capacity: EventLoop.scratchSize)
                }
            } catch {
                // A refused handshake or a bad record: send the alert, then close.
                server.logger.debug("TLS: \(error)", metadata: ["peer": "\(peer)"])
                sendTLSOutput()
                stopReading()
                phase = .closing
                afterFlush = .close
                flush()
                return
            }
            sendTLSOutput()
            if tls.peerClosed { end = true }
            if unsent > 0 { flush() }  // handshake messages, session tickets, alerts
        }
        if end {
            endOfInput = true
            stateLock.lock()
            endFlag = true
            stateLock.unlock()
            stopReading()
        }
        switch phase {
        case .lingering:
            if end || lingerDiscarded >= Connection.lingerBytes { close(); return }
            readDeadline = min(lingerEnd, Clock.now() + Connection.lingerIdle)
        case .closing:
            // Request bytes after the last answer: close lingering, so that they do not reset the connection.
            if received > 0 && afterFlush == .close { afterFlush = .linger }
        case .handling, .responding, .sending:
            // Read ahead (pipelined requests, or the client's end), up to the cap.
            if input.count > Connection.inputCap { stopReading() }
        case .handshake, .head, .body:
            if received > 0 { process() }
            // The client is gone or finished sending: what is half-read will not be answered.
            if endOfInput && (phase == .head || phase == .body || phase == .handshake) { close() }
        case .closed:
            break
        }
    }

    /// Runs the parser over the input until it needs more bytes or hands a request to the responder.
    private func process() {
        while true {
            switch phase {
            case .handshake:
                guard tls?.handshakeDone == true else { return }
                phase = .head
                readDeadline = Clock.now() + server.configuration.idleTimeout
                readDeadlineStatus = nil
            case .head:
                guard !input.isEmpty else { return }
                if readDeadlineStatus == nil {
                    // The first byte of a request: the request timeout starts.
                    readDeadline = Clock.now() + server.configuration.requestTimeout
                    readDeadlineStatus = 408
                }
                guard let end = HTTPParser.headEnd(input, from: scanned) else {
                    scanned = max(0, input.count - 3)
                    do { try HTTPParser.checkPartial(input, from: checked, limits: server.configuration.limits) } catch let f as HTTPParser.Failure {
                        fail(f)
                        return
                    } catch { close(); return }
                    checked = input.count
                    return
                }
                let h: HTTPParser.Head
                do { h = try HTTPParser.parseHead(input[0..<end], limits: server.configuration.limits) } catch let f as HTTPParser.Failure {
                    fail(f)
                    return
                } catch { close(); return }
                input.removeFirst(end)
                scanned = 0
                checked = 0
                if h.framing == .none {
                    dispatch(h, body: RequestBody([]))
                    return
                }
                head = h
                if case .chunked = h.framing {
                    chunked = HTTPParser.ChunkedDecoder(maxBody: server.configuration.limits.maxBodyBytes)
                    chunkedPosition = 0
                }
                phase = .body
                if h.expectContinue && input.isEmpty && handsOverAtHead(h) {
                    continuePending = true
                } else if h.expectContinue && input.isEmpty {
                    emit(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                    flush()
                    if phase == .closed { return }
                }
            case .body:
                guard let h = head else { return }
                switch h.framing {
                case .length(let n):
                    if n > server.configuration.spoolThreshold {
                        // A large body goes to a file as it arrives (and with `streamBodies`, the request to the
                        // responder at once).
                        if spool.arriving == nil && handsOverAtHead(h) {
                            if let f = spool.open(server) { fail(f); return }
                            startResponder(h, body: spool.handOver(count: n, server, firstWait: { [weak self] in
                                self?.loop.execute { self?.sendContinue() }
                            }))
                        }
                        let take = min(input.count, n - spool.written)
                        guard take > 0 else { return }
                        if let f = spool.write(input[0..<take], server) { fail(f); return }
                        input.removeFirst(take)
                        continuePending = false
                        guard spool.written == n else { return }
                        if spool.arriving != nil { bodyArrived() } else { dispatch(h, body: spool.take(server)) }
                        return
                    }
                    guard input.count >= n else { return }
                    let body = Array(input[0..<n])
                    input.removeFirst(n)
                    dispatch(h, body: RequestBody(body))
                    return
                case .chunked:
                    do { chunkedPosition = try chunked!.feed(input, from: chunkedPosition) } catch let f as HTTPParser.Failure {
                        fail(f)
                        return
                    } catch { close(); return }
                    input.removeFirst(chunkedPosition)
                    chunkedPosition = 0
                    if (chunked!.total > server.configuration.spoolThreshold || spool.isOpen) && !chunked!.body.isEmpty {
                        // Past the threshold: to a file from here on (and with `streamBodies`, the request to the
                        // responder now, its length known at its end).
                        if !spool.isOpen && server.configuration.streamBodies {
                            if let f = spool.open(server) { fail(f); return }
                            startResponder(h, body: spool.handOver(count: nil, server))
                        }
                        if let f = spool.write(chunked!.takeBody()[...], server) { fail(f); return }
                    }
                    guard chunked!.isDone else { return }
                    let whole = chunked!.body
                    chunked = nil
                    if spool.arriving != nil {
                        bodyArrived()
                    } else {
                        dispatch(h, body: spool.isOpen ? spool.take(server) : RequestBody(whole))
                    }
                    return
                case .none:
                    dispatch(h, body: RequestBody([]))
                    return
                }
            case .handling, .responding, .sending, .closing, .lingering, .closed:
                return
            }
        }
    }

    // MARK: bodies handed over while they arrive

    /// A body handed over while arriving is all there: its handler goes on, and the connection waits for the answer.
    private func bodyArrived() {
        spool.arrived()
        head = nil
        phase = .handling
        readDeadline = .infinity
        readDeadlineStatus = nil
    }

    /// Whether a request's body is handed to the responder with its head, before any of it arrives: one of known
    /// length past the spool threshold, on a server whose responder awaits bodies (`streamBodies`). (A chunked
    /// body is handed over later, once past the threshold; its `100 Continue` goes at once.)
    private func handsOverAtHead(_ h: HTTPParser.Head) -> Bool {
        guard server.configuration.streamBodies, case .length(let n) = h.framing else { return false }
        return n > server.configuration.spoolThreshold
    }

    /// The handler waits for a body the client holds back for `100 Continue`: sends it.
    private func sendContinue() {
        guard continuePending, phase == .body, spool.arriving != nil else { return }
        continuePending = false
        emit(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        flush()
    }

    // MARK: answering

    /// Hands a complete request to the responder.
    private func dispatch(_ h: HTTPParser.Head, body: RequestBody) {
        head = nil
        phase = .handling
        readDeadline = .infinity
        readDeadlineStatus = nil
        startResponder(h, body: body)
    }

    /// Starts the responder on a request (a task started on the loop), its body complete or still arriving.
    private func startResponder(_ h: HTTPParser.Head, body: RequestBody) {
        var request = HTTPRequest(method: h.method, target: h.target, version: h.version, headers: h.headers, body: [],
                                  remoteAddress: peer)
        request.bodyStorage = body
        request.isSecure = tls != nil
        request.isClientConnected = { [weak self] in self?.isClientConnected ?? false }
        request.handlerExecutor = server.handlers
        let responder = server.responder, sent = request
        // Starts on the loop and ends there: what the responder does not move to the handler pool runs without a
        // thread switch, and the answer is written from the loop.
        Task(executorPreference: loop) {
            let response = await responder.respond(to: sent)
            self.answer(response, sent)
        }
    }

    /// Writes the answer's head and body (or starts its stream).
    private func answer(_ response: HTTPResponse, _ request: HTTPRequest) {
        // An answer before the body has arrived (a refusal): the rest of the body is read and discarded in a
        // lingering close.
        let early = phase == .body && spool.arriving != nil
        guard phase == .handling || early else { return }
        if early {
            spool.drop("answered before it arrived", server)
            head = nil
            chunked = nil
            input.removeAll()
            continuePending = false
            discardInput = true
            readDeadline = .infinity
            readDeadlineStatus = nil
        }
        let keepAlive = request.keepAlive && !draining && !server.isDraining && !early
        let isHead = request.method == "HEAD"
        let http10 = request.version.minor == 0
        let noBody = response.status < 200 || response.status == 204 || response.status == 304
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
        var text = "HTTP/1.1 \(response.status) \(HTTPResponse.reason(response.status))\r\n"
        for f in headers.fields { text += "\(f.name): \(f.value)\r\n" }
        text += "\r\n"
        switch response.body {
        case .bytes(let b):
            var out = Array(text.utf8)
            if !isHead && !noBody { out.append(contentsOf: b) }
            emit(out)
            finishResponse(closeAfter: closeAfter)
        case .stream(let produce):
            emit(Array(text.utf8))
            if isHead || noBody {
                finishResponse(closeAfter: closeAfter)
                return
            }
            phase = .responding
            flush()
            let writer = StreamWriter(connection: self, chunked: !http10)
            let closeAfter = closeAfter
            Task(executorPreference: server.handlers) {
                do {
                    try await produce(writer)
                    self.loop.execute { self.endStream(chunked: !http10, closeAfter: closeAfter) }
                } catch {
                    // The stream broke off (the client left, or the producer failed): what was written is sent,
                    // then the connection closes without the stream's end.
                    self.loop.execute { self.abortStream() }
                }
            }
        }
    }

    private func abortStream() {
        guard phase == .responding else { return }
        phase = .closing
        afterFlush = discardInput ? .linger : .close
        flush()
    }

    private func endStream(chunked: Bool, closeAfter: Bool) {
        guard phase == .responding else { return }
        if chunked { emit(Array("0\r\n\r\n".utf8)) }
        finishResponse(closeAfter: closeAfter)
    }

    /// After an answer: once it is sent, the next request, or the close (lingering when request bytes are left
    /// that will not be answered).
    private func finishResponse(closeAfter: Bool) {
        guard !isClosed else { return }
        phase = closeAfter ? .closing : .sending
        afterFlush = closeAfter ? (input.isEmpty && !discardInput ? .close : .linger) : .nextRequest
        flush()
    }

    /// Answers a malformed or refused request and closes (lingering: the rest of the request may be on its way).
    private func fail(_ f: HTTPParser.Failure) {
        server.metrics?(f.status)
        var r = server.errorResponse(f.status, f.message)
        var body: [UInt8] = []
        if case .bytes(let b) = r.body { body = b }
        r.headers.set("Connection", "close")
        r.headers.set("Content-Length", String(body.count))
        if r.headers["Date"] == nil { r.headers.set("Date", HTTPDate.now()) }
        if r.headers["Server"] == nil { r.headers.set("Server", server.configuration.serverName) }
        var text = "HTTP/1.1 \(r.status) \(HTTPResponse.reason(r.status))\r\n"
        for f in r.headers.fields { text += "\(f.name): \(f.value)\r\n" }
        text += "\r\n"
        emit(Array(text.utf8) + body)
        guard !isClosed else { return }
        head = nil
        chunked = nil
        spool.drop(f.message, server)
        input.removeAll()
        phase = .closing
        afterFlush = .linger
        flush()
    }

    // MARK: writing

    /// Queues bytes to send (encrypted first with TLS).
    private func emit(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, phase != .closed else { return }
        if let tls {
            do { try bytes.withUnsafeBytes { try tls.write($0) } } catch { close(); return }
            sendTLSOutput()
        } else {
            if sent == output.count { output.removeAll(keepingCapacity: output.capacity <= 1 << 16); sent = 0 }
            output.append(contentsOf: bytes)
        }
    }

    private func sendTLSOutput() {
        guard let tls else { return }
        if sent == output.count { output.removeAll(keepingCapacity: output.capacity <= 1 << 16); sent = 0 }
        tls.takeOutput(into: &output, scratch: loop.scratch, capacity: EventLoop.scratchSize)
    }

    var unsent: Int { output.count - sent }

    /// Sends what the socket takes now; a write source calls again when it can take more.
    func flush() {
        guard !isClosed else { return }
        while sent < output.count {
            let n = output.withUnsafeBytes { send(fd, $0.baseAddress! + sent, output.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                sendDeadline = Clock.now() + server.configuration.sendTimeout
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if sendDeadline == .infinity { sendDeadline = Clock.now() + server.configuration.sendTimeout }
                startWriting()
                wakeWriters()
                return
            }
            close()
            return
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 16)
        sent = 0
        sendDeadline = .infinity
        stopWriting()
        wakeWriters()
        let next = afterFlush
        afterFlush = .nothing
        switch next {
        case .nothing: break
        case .close: closeGracefully()
        case .linger: lingeringClose()
        case .nextRequest:
            if draining || server.isDraining {
                // Requests read ahead will not be answered: close lingering, so that the answer just sent is not reset.
                if input.isEmpty && !endOfInput { closeGracefully() } else if input.isEmpty { close() } else { lingeringClose() }
                return
            }
            phase = .head
            readDeadline = Clock.now() + server.configuration.idleTimeout
            readDeadlineStatus = nil
            startReading()
            process()
            if endOfInput && (phase == .head || phase == .body) { close() }
        }
    }

    /// Lets waiting stream writers go on while the unsent bytes are under the high-water mark.
    private func wakeWriters() {
        guard !writers.isEmpty, unsent < Connection.highWater else { return }
        let waiting = writers
        writers.removeAll()
        for w in waiting { w(true) }
    }

    /// Called by a stream writer (on the loop): sends a chunk, then `resume(true)` when the writer may go on,
    /// `resume(false)` when the connection is gone.
    func streamWrite(_ bytes: [UInt8], chunked: Bool, resume: @escaping (Bool) -> Void) {
        guard phase == .responding else { resume(false); return }
        if chunked {
            var framed = Array(String(bytes.count, radix: 16).utf8) + [0x0D, 0x0A]
            framed.append(contentsOf: bytes)
            framed.append(contentsOf: [0x0D, 0x0A])
            emit(framed)
        } else {
            emit(bytes)
        }
        flush()
        if phase == .closed { resume(false); return }
        if unsent < Connection.highWater { resume(true) } else { writers.append(resume) }
    }

    /// Closes after a complete exchange: with TLS, close_notify first (sent if the socket takes it now).
    private func closeGracefully() {
        if let tls, !isClosed {
            tls.shutdown()
            sendTLSOutput()
            if unsent > 0 {
                _ = output.withUnsafeBytes { send(fd, $0.baseAddress! + sent, output.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            }
        }
        close()
    }

    /// After an answer that closes the connection while request bytes may still arrive (a 414 or 431 to a
    /// client still sending): sends FIN, then reads and discards for a bounded time, so that closing does not
    /// reset the connection (a reset makes the client's TCP drop the answer it has not read yet).
    private func lingeringClose() {
        guard !isClosed else { return }
        if let tls {
            tls.shutdown()
            sendTLSOutput()
            if unsent > 0 {
                _ = output.withUnsafeBytes { send(fd, $0.baseAddress! + sent, output.count - sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            }
            output.removeAll()
            sent = 0
        }
        if endOfInput { close(); return }
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        input.removeAll()
        phase = .lingering
        let now = Clock.now()
        lingerEnd = now + Connection.lingerTotal
        lingerDiscarded = 0
        readDeadline = now + Connection.lingerIdle
        readDeadlineStatus = nil
        startReading()
    }

    // MARK: deadlines and draining

    func checkDeadlines(_ now: Double) {
        if now >= sendDeadline {
            server.logger.debug("closing a connection whose reader stopped reading", metadata: ["peer": "\(peer)"])
            close()
            return
        }
        guard now >= readDeadline else { return }
        if let status = readDeadlineStatus, phase == .head || phase == .body {
            readDeadlineStatus = nil
            readDeadline = .infinity
            fail(HTTPParser.Failure(status, "request not received in time"))
        } else if phase == .handshake || phase == .head || phase == .body || phase == .lingering {
            close()
        }
    }

    /// Asks the connection to finish: an idle one closes now; a busy one closes after its answer.
    func drain() {
        draining = true
        if (phase == .head && input.isEmpty) || phase == .handshake { close() }
    }
}
