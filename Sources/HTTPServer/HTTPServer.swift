import Dispatch
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server, event-driven: non-blocking sockets spread over event loops (one per two cores), each a
/// thread waiting in epoll (`EventLoop`); handlers run as tasks on a bounded pool of threads
/// sized to the cores (`HandlerPool`). An open connection costs a descriptor and a few kilobytes, not a thread. HTTPS through
/// OpenSSL when a certificate is configured, with plain-HTTP listeners beside it if asked. `shutdown` stops
/// accepting, lets the responses in flight finish and closes idle connections.
public final class HTTPServer: @unchecked Sendable {
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) { self.host = host; self.port = port }
    }

    public struct Configuration: Sendable {
        /// Addresses to listen on ("0.0.0.0", "::" (IPv6 and IPv4), "127.0.0.1", "::1", a host name).
        public var hosts: [String] = ["127.0.0.1"]
        /// 0 picks a free port (the same one for every host).
        public var port: Int = 8080
        /// HTTPS on `hosts`/`port` when set.
        public var tls: TLSConfiguration? = nil
        /// Plain-HTTP listeners beside the HTTPS ones (e.g. loopback for health checks); port 0 picks one.
        public var plainListeners: [Address] = []
        public var limits = HTTPParser.Limits()
        /// Open connections at once (further capped by the process's descriptor limit); more are answered 503
        /// and closed while the open ones go on.
        public var maxConnections = 16384
        /// Seconds to receive a whole request once its first byte arrived.
        public var requestTimeout: Double = 10
        /// Seconds an open connection may wait for its next request.
        public var idleTimeout: Double = 60
        /// Seconds a write may wait without progress for a slow reader.
        public var sendTimeout: Double = 30
        /// Request bodies longer than this are written to a temporary file as they arrive rather than held in
        /// memory (uploads from slow clients).
        public var spoolThreshold = 1 << 20
        /// Where spooled bodies go (unlinked at once; nil: the system's temporary directory).
        public var spoolDirectory: String? = nil
        /// Hands a request whose body is past `spoolThreshold` to the responder while the body still arrives
        /// (`RequestBody`): with a known length as soon as its head is read, in chunked encoding once past the
        /// threshold. For a responder that awaits `whole()` before it reads `body`, or reads the body as it
        /// arrives. Off: the responder gets the request once the body is all there.
        public var streamBodies = false
        /// Event loops, each a thread (0: one per two cores, at least one: the handlers, jobs and clients need the
        /// rest).
        public var loops = 0
        /// Threads handlers run on (0: twice the cores, at least 4: handlers may block briefly on the store or a
        /// file; waiting for jobs and events holds none).
        public var handlerThreads = 0
        public var serverName = "scored"
        public init() {}
    }

    public let configuration: Configuration
    let responder: any HTTPResponder
    let logger: Logger
    /// Builds the body of error answers (the application's JSON error format).
    let errorResponse: @Sendable (Int, String) -> HTTPResponse
    /// Told the status of requests refused before reaching the responder.
    let metrics: (@Sendable (Int) -> Void)?

    private struct Listener: @unchecked Sendable {
        let socket: ListeningSocket
        let secure: Bool
        let source: DispatchSourceRead
    }

    private var listeners: [Listener] = []
    private(set) var handlers: HandlerPool!
    private var loops: [EventLoop] = []
    private var nextLoop = 0
    private let acceptQueue = DispatchQueue(label: "http.accept", qos: .userInitiated)
    private let lock = NSCondition()
    private var open = 0
    private var draining = false
    private var tlsContext: TLSContext?
    /// Connections accepted at once: the setting, or fewer if the descriptor limit is lower.
    public private(set) var connectionLimit = 0
    /// Request bodies spooled to a file so far.
    public var spooledBodies: Int { lock.lock(); defer { lock.unlock() }; return spooled }
    private var spooled = 0

    /// Spool files open at once (each is a descriptor beside its connection's).
    private var openSpools = 0
    static let maxOpenSpools = 256

    /// An unlinked temporary file for a request body (close-on-exec); -1 if none can be made, -2 if
    /// `maxOpenSpools` are open.
    func openSpoolFile() -> Int32 {
        lock.lock()
        guard openSpools < HTTPServer.maxOpenSpools else { lock.unlock(); return -2 }
        openSpools += 1
        lock.unlock()
        let dir = configuration.spoolDirectory ?? NSTemporaryDirectory()
        var template = Array((dir.hasSuffix("/") ? dir : dir + "/").utf8CString.dropLast()) + Array("scored-body-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else {
            logger.error("cannot make a spool file in \(dir): \(cString(strerror(errno)))")
            spoolClosed()
            return -1
        }
        unlink(template)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        lock.lock()
        spooled += 1
        lock.unlock()
        return fd
    }

    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger = Logger(label: "http"),
                errorResponse: @escaping @Sendable (Int, String) -> HTTPResponse = { HTTPResponse.text($0, $1 + "\n") },
                metrics: (@Sendable (Int) -> Void)? = nil) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.errorResponse = errorResponse
        self.metrics = metrics
    }

    /// The bound port of the main listeners (after `start`).
    public var port: Int { listeners.first(where: { $0.secure == (configuration.tls != nil) })?.socket.port ?? configuration.port }

    /// The bound ports of the plain listeners beside HTTPS, in the configured order.
    public var plainPorts: [Int] { configuration.tls == nil ? [] : listeners.filter { !$0.secure }.map(\.socket.port) }

    var isDraining: Bool {
        lock.lock()
        defer { lock.unlock() }
        return draining
    }

    /// Number of open connections.
    public var connectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return open
    }

    /// Loads the certificate (a clear error if it is missing, unreadable or does not match its key), binds every
    /// address and starts accepting.
    public func start() throws {
        if let tls = configuration.tls { tlsContext = try TLSContext(tls) }
        let descriptors = SocketIO.raiseDescriptorLimit()
        // Descriptors for the store, files and the listeners themselves.
        let reserve = 64
        connectionLimit = max(1, min(configuration.maxConnections, descriptors - reserve))
        if connectionLimit < configuration.maxConnections {
            logger.warning("the descriptor limit (\(descriptors)) allows \(connectionLimit) connections, fewer than the \(configuration.maxConnections) configured")
        }
        let n = configuration.loops > 0 ? configuration.loops : max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
        loops = try (0..<n).map { try EventLoop(index: $0) }
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        handlers = HandlerPool(threads: configuration.handlerThreads > 0 ? configuration.handlerThreads : max(4, 2 * cores))
        for l in loops { l.start() }
        var port = configuration.port
        var bound: [(ListeningSocket, Bool)] = []
        do {
            for host in configuration.hosts {
                let l = try ListeningSocket(host: host, port: port)
                port = l.port  // with port 0, the other addresses use the same port
                bound.append((l, configuration.tls != nil))
            }
            if configuration.tls != nil {
                var plainPort: Int? = nil
                for a in configuration.plainListeners {
                    let l = try ListeningSocket(host: a.host, port: a.port == 0 ? (plainPort ?? 0) : a.port)
                    if a.port == 0 { plainPort = l.port }
                    bound.append((l, false))
                }
            }
        } catch {
            for (l, _) in bound { _ = Glibc.close(l.fd) }
            for l in loops { l.stop() }
            handlers.stop()
            throw error
        }
        for (socket, secure) in bound {
            let source = DispatchSource.makeReadSource(fileDescriptor: socket.fd, queue: acceptQueue)
            let listener = Listener(socket: socket, secure: secure, source: source)
            source.setEventHandler { [weak self] in self?.acceptAll(listener) }
            source.setCancelHandler { _ = Glibc.close(socket.fd) }
            listeners.append(listener)
            let h = socket.host
            logger.info("listening", metadata: ["address": "\(h.contains(":") ? "[\(h)]" : h):\(socket.port)",
                                                "scheme": "\(secure ? "https" : "http")"])
        }
        for l in listeners { l.source.resume() }
    }

    /// Loads the certificate and key again (SIGHUP): new connections use them, open ones keep theirs. On an
    /// error the old ones stay in use.
    public func reloadTLS() throws {
        guard let tls = configuration.tls else { return }
        let fresh = try TLSContext(tls)
        lock.lock()
        tlsContext = fresh
        lock.unlock()
        logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(tls.certificatePath)"])
    }

    private func currentTLS() -> TLSContext? {
        lock.lock()
        defer { lock.unlock() }
        return tlsContext
    }

    /// Accepts what is waiting (on the accept queue); out of descriptors, pauses accepting for a moment.
    private func acceptAll(_ listener: Listener) {
        for _ in 0..<256 {
            switch listener.socket.accept() {
            case .connection(let fd, let peer):
                admit(fd, peer: peer, secure: listener.secure)
            case .none:
                return
            case .exhausted:
                logger.warning("out of file descriptors: accepting paused for 100 ms")
                listener.source.suspend()
                acceptQueue.asyncAfter(deadline: .now() + 0.1) { listener.source.resume() }
                return
            case .closed:
                return
            }
        }
    }

    private func admit(_ fd: Int32, peer: String, secure: Bool) {
        lock.lock()
        let refused = draining || open >= connectionLimit
        if !refused { open += 1 }
        let isDraining = draining
        lock.unlock()
        if refused {
            refuse(fd, secure: secure, draining: isDraining)
            return
        }
        let loop = loops[nextLoop]
        nextLoop = (nextLoop + 1) % loops.count
        do {
            let c = try Connection(fd: fd, peer: peer, loop: loop, server: self, tls: secure ? currentTLS() : nil)
            loop.execute { c.start() }
        } catch {
            logger.error("cannot set up a connection: \(error)")
            _ = Glibc.close(fd)
            connectionClosed()
        }
    }

    /// Past the limit (or while stopping): a plain connection gets a 503 (best effort, without waiting), a TLS
    /// one is closed.
    private func refuse(_ fd: Int32, secure: Bool, draining: Bool) {
        metrics?(503)
        if !secure {
            var r = errorResponse(503, draining ? "the server is shutting down" : "too many open connections")
            r.headers.set("Connection", "close")
            r.headers.set("Retry-After", "1")
            if case .bytes(let b) = r.body {
                let head = "HTTP/1.1 503 Service Unavailable\r\n" + r.headers.fields.map { "\($0.name): \($0.value)\r\n" }.joined()
                    + "Content-Length: \(b.count)\r\n\r\n"
                let bytes = Array(head.utf8) + b
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                _ = Glibc.shutdown(fd, Int32(SHUT_WR))
            }
        }
        _ = Glibc.close(fd)
    }

    func spoolClosed() {
        lock.lock()
        openSpools -= 1
        lock.unlock()
    }

    func connectionClosed() {
        lock.lock()
        open -= 1
        if open == 0 { lock.broadcast() }
        lock.unlock()
    }

    /// Stops accepting, closes idle connections, lets busy ones finish their response, and waits up to
    /// `grace` seconds for all to close. Returns whether they did.
    @discardableResult
    public func shutdown(grace: Double = 10) -> Bool {
        lock.lock()
        let already = draining
        draining = true
        lock.unlock()
        if !already {
            for l in listeners { l.source.cancel() }
        }
        let deadline = Date().addingTimeInterval(grace)
        while true {
            // Connections that went idle since the last pass are closed too.
            for loop in loops { loop.execute { for c in Array(loop.connections.values) { c.drain() } } }
            lock.lock()
            if open > 0 { _ = lock.wait(until: min(deadline, Date().addingTimeInterval(0.1))) }
            let remaining = open
            lock.unlock()
            if remaining == 0 || Date() >= deadline { break }
        }
        let clean = connectionCount == 0
        if !clean {
            // Past the grace period: what is left is closed.
            for loop in loops { loop.executeAndWait { for c in Array(loop.connections.values) { c.close() } } }
        }
        if !already {
            for loop in loops { loop.stop() }
            handlers.stop()
        }
        return clean
    }
}
