import Foundation
import Logging

/// A small HTTP/1.1 server on POSIX sockets: one accepting thread per listening address and one thread per
/// connection, bounded in number; every read has a deadline, every write a timeout. `shutdown` stops
/// accepting, lets the responses in flight finish and closes idle connections.
public final class HTTPServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Addresses to listen on ("0.0.0.0", "::" (IPv6 and IPv4), "127.0.0.1", "::1", a host name).
        public var hosts: [String] = ["127.0.0.1"]
        /// 0 picks a free port (the same one for every host).
        public var port: Int = 8080
        public var limits = HTTPParser.Limits()
        /// Open connections accepted at once; more are answered 503 and closed.
        public var maxConnections = 512
        /// Seconds to receive a whole request once its first byte arrived.
        public var requestTimeout: Double = 10
        /// Seconds an open connection may wait for its next request.
        public var idleTimeout: Double = 60
        /// Seconds a blocked write may wait for a slow reader.
        public var sendTimeout: Double = 30
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

    private var listeners: [ListeningSocket] = []
    private let lock = NSLock()
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var draining = false
    private let allClosed = NSCondition()

    public init(configuration: Configuration, responder: any HTTPResponder, logger: Logger = Logger(label: "http"),
                errorResponse: @escaping @Sendable (Int, String) -> HTTPResponse = { HTTPResponse.text($0, $1 + "\n") },
                metrics: (@Sendable (Int) -> Void)? = nil) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.errorResponse = errorResponse
        self.metrics = metrics
    }

    /// The bound port (after `start`).
    public var port: Int { listeners.first?.port ?? configuration.port }

    var isDraining: Bool {
        lock.lock()
        defer { lock.unlock() }
        return draining
    }

    /// Number of open connections.
    public var connectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return connections.count
    }

    /// Binds every address and starts accepting.
    public func start() throws {
        var port = configuration.port
        for host in configuration.hosts {
            let l = try ListeningSocket(host: host, port: port)
            port = l.port  // with port 0, the other addresses use the same port
            listeners.append(l)
            logger.info("listening", metadata: ["address": "\(host.contains(":") ? "[\(host)]" : host):\(l.port)"])
        }
        for l in listeners {
            let t = Thread { [self] in acceptLoop(l) }
            t.name = "accept \(l.host)"
            t.stackSize = 256 << 10
            t.start()
        }
    }

    private func acceptLoop(_ listener: ListeningSocket) {
        while let socket = listener.accept() {
            lock.lock()
            let refused = draining || connections.count >= configuration.maxConnections
            let connection = Connection(socket: socket, server: self)
            if !refused { connections[ObjectIdentifier(connection)] = connection }
            lock.unlock()
            if refused {
                metrics?(503)
                var r = errorResponse(503, draining ? "the server is shutting down" : "too many open connections")
                r.headers.set("Connection", "close")
                r.headers.set("Retry-After", "1")
                if case .bytes(let b) = r.body {
                    let head = "HTTP/1.1 503 Service Unavailable\r\n" + r.headers.fields.map { "\($0.name): \($0.value)\r\n" }.joined()
                        + "Content-Length: \(b.count)\r\n\r\n"
                    try? socket.write(Array(head.utf8) + b)
                }
                socket.close()
                continue
            }
            let t = Thread { [self] in
                connection.run()
                lock.lock()
                connections[ObjectIdentifier(connection)] = nil
                let empty = connections.isEmpty
                lock.unlock()
                if empty { allClosed.lock(); allClosed.broadcast(); allClosed.unlock() }
            }
            t.name = "http \(socket.peer)"
            t.stackSize = 512 << 10
            t.start()
        }
    }

    /// Stops accepting, closes idle connections, lets busy ones finish their response, and waits up to
    /// `grace` seconds for all to close. Returns whether they did.
    @discardableResult
    public func shutdown(grace: Double = 10) -> Bool {
        lock.lock()
        draining = true
        let open = Array(connections.values)
        lock.unlock()
        for l in listeners { l.close() }
        for c in open { c.drain() }
        let deadline = Date().addingTimeInterval(grace)
        allClosed.lock()
        defer { allClosed.unlock() }
        while connectionCount > 0 {
            if !allClosed.wait(until: min(deadline, Date().addingTimeInterval(0.1))) && Date() >= deadline { break }
            // Connections that went idle after the first pass.
            lock.lock()
            let still = Array(connections.values)
            lock.unlock()
            for c in still { c.drain() }
        }
        return connectionCount == 0
    }
}
