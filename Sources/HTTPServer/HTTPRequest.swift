/// Header fields in arrival order, looked up case-insensitively.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    /// Replaces every field of that name.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { HTTPHeaders.sameName($0.name, name) }
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        fields.first { HTTPHeaders.sameName($0.name, name) }?.value
    }

    /// Every value of `name`.
    public func values(_ name: String) -> [String] {
        fields.filter { HTTPHeaders.sameName($0.name, name) }.map(\.value)
    }

    /// Field names compare without regard to ASCII case (and without allocating, as `lowercased()` would).
    static func sameName(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count == y.count else { return false }
                for i in 0..<x.count where x[i] != y[i] {
                    let l = x[i] | 0x20
                    guard l == y[i] | 0x20, l >= 0x61, l <= 0x7A else { return false }
                }
                return true
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

/// A request body: in memory, or spooled to an unlinked temporary file as it arrives (a large upload, so that a
/// slow client holds disk rather than memory). On a server with `streamBodies`, a large body is handed to the
/// responder while it is still arriving: with a known length as soon as its head has been read, in chunked encoding
/// once it has passed the spool threshold. A handler that streams (`read(at:upTo:)`) works on it as it comes in,
/// and one that answers early (a refusal) saves the client the rest of the upload. `whole()` waits for all of it;
/// `data` then reads it in.
public final class RequestBody: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8]?
    private var fd: Int32
    /// Its length, once known (a chunked body's at its end).
    private var total: Int?
    private let release: (@Sendable () -> Void)?
    /// How much of it is there so far (all of it, except while a spooled body arrives).
    private var arrived: Int
    /// Why it stopped arriving short of its end.
    private var failure: String?
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Called the first time a reader waits for bytes not there yet (the connection then sends `100 Continue`).
    private var firstWait: (@Sendable () -> Void)?

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        fd = -1
        total = bytes.count
        arrived = bytes.count
        release = nil
    }

    /// Takes over `fd`, a file holding `count` bytes from offset 0; `release` is called when it is closed.
    init(spooled fd: Int32, count: Int, release: (@Sendable () -> Void)? = nil) {
        self.fd = fd
        total = count
        self.release = release
        arrived = count
    }

    /// Takes over `fd`, a file the connection is still writing to (`advance`, then `finish` or `fail`): `count`
    /// bytes, or as many as a chunked body turns out to have (nil).
    init(arriving fd: Int32, count: Int?, release: (@Sendable () -> Void)? = nil, firstWait: (@Sendable () -> Void)? = nil) {
        self.fd = fd
        total = count
        self.release = release
        self.firstWait = firstWait
        arrived = 0
    }

    /// Its length in bytes. Of a chunked body still arriving, only what has arrived so far: a handler reading as
    /// it arrives reads until `read(at:upTo:)` comes back empty, not up to `count`.
    public var count: Int { lock.withLock { total ?? arrived } }

    /// The connection wrote the file up to `n` bytes.
    func advance(to n: Int) {
        update { arrived = n }
    }

    /// A chunked body ended: what has arrived is all of it.
    func finish() {
        update { total = arrived }
    }

    /// The rest will not come (the client left, broke off, or took too long; or the answer went without it).
    func fail(_ why: String) {
        update { if !complete && failure == nil { failure = why } }
    }

    private func update(_ change: () -> Void) {
        let woken: [CheckedContinuation<Void, Never>] = lock.withLock {
            change()
            defer { waiters.removeAll() }
            return waiters
        }
        for w in woken { w.resume() }
    }

    /// Under the lock.
    private var complete: Bool { total == arrived }

    /// Whether all of it is there.
    public var isComplete: Bool { lock.withLock { complete } }

    /// Waits until `ready` holds (checked under the lock) or the body stopped arriving (then throws
    /// `RequestBodyIncomplete`); returns how many bytes are there.
    private func wait(until ready: @escaping () -> Bool) async throws -> Int {
        while true {
            let state: (Int, String?, Bool) = lock.withLock { (arrived, failure, ready()) }
            if state.2 { return state.0 }
            if let why = state.1 { throw RequestBodyIncomplete(reason: why) }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let (now, hook) = lock.withLock { () -> (Bool, (@Sendable () -> Void)?) in
                    if ready() || failure != nil { return (true, nil) }
                    waiters.append(c)
                    defer { firstWait = nil }
                    return (false, firstWait)
                }
                if now { c.resume() }
                hook?()
            }
        }
    }

    /// How many bytes are there once more than `offset` are (or all of them); throws `RequestBodyIncomplete` if
    /// the body stopped arriving before.
    public func available(beyond offset: Int) async throws -> Int {
        try await wait { [unowned self] in arrived > offset || complete }
    }

    /// Waits until all of it has arrived.
    public func whole() async throws {
        _ = try await wait { [unowned self] in complete }
    }

    /// Up to `limit` bytes from `offset`, as soon as at least one is there; empty at the end (once the body is
    /// known to end there: at or past the end of a body still arriving, it waits for the rest, and throws
    /// `RequestBodyIncomplete` if that breaks off).
    public func read(at offset: Int, upTo limit: Int = 1 << 16) async throws -> [UInt8] {
        precondition(offset >= 0, "a negative offset")
        guard limit > 0 else { return [] }
        let there = try await available(beyond: offset)
        guard there > offset else { return [] }  // the end
        let n = min(limit, there - offset)
        if let bytes = lock.withLock({ self.bytes }) { return Array(bytes[offset..<offset + n]) }
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        out.withUnsafeMutableBytes { b in
            while got < n {
                let r = pread(fd, b.baseAddress! + got, n - got, off_t(offset + got))
                if r > 0 { got += r } else if r < 0 && errno == EINTR { continue } else { break }
            }
        }
        guard got == n else { throw RequestBodyIncomplete(reason: "the body could not be read back from its spool file") }
        return out
    }

    /// False when its spool file could not be read back whole (`data` is then short).
    public var isIntact: Bool { lock.withLock { bytes.map { $0.count == total } ?? true } }

    /// Whether it arrived in a file.
    public var isSpooled: Bool { lock.lock(); defer { lock.unlock() }; return fd >= 0 || bytes == nil }

    /// The bytes (read from the file the first time). Of a body still arriving, only what is there (so: after
    /// `whole()`).
    public var data: [UInt8] {
        // The file is read outside the lock, so that the connection recording more arrivals is not held up.
        let (cached, total, whole) = lock.withLock { (bytes, arrived, complete) }
        if let cached { return cached }
        var out = [UInt8](repeating: 0, count: total)
        var off = 0
        out.withUnsafeMutableBytes { b in
            while off < total {
                let n = pread(fd, b.baseAddress! + off, total - off, off_t(off))
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        if off < total { out.removeSubrange(off...) }
        if whole && off == total { lock.withLock { bytes = out } }
        return out
    }

    deinit {
        if fd >= 0 {
            close(fd)
            release?()
        }
    }
}

/// A request body that stopped arriving before its end.
public struct RequestBodyIncomplete: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "the request body did not arrive whole: \(reason)" }
}

/// A parsed request: method, target, version, headers and the whole body.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target as sent (origin form: path and optional query).
    public var target: String
    /// (1, 1) or (1, 0).
    public var version: (major: Int, minor: Int)
    public var headers: HTTPHeaders
    /// The body (read in from its spool file on first use; see `RequestBody`; of a body still arriving, only what
    /// is there).
    public var body: [UInt8] {
        get { bodyStorage.data }
        set { bodyStorage = RequestBody(newValue) }
    }
    public var bodyStorage: RequestBody
    /// The peer's address, for logs.
    public var remoteAddress: String
    /// Whether it came over TLS.
    public var isSecure = false
    /// The server's handler threads. The responder starts on the connection's event loop; work that may block
    /// or compute for long moves here (`withTaskExecutorPreference`) so that the loop's other connections go on.
    public var handlerExecutor: (any TaskExecutor)? = nil
    /// Whether the client still holds the connection (for handlers that wait long before answering).
    public var isClientConnected: @Sendable () -> Bool = { true }

    public init(method: String, target: String, version: (major: Int, minor: Int) = (1, 1), headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], remoteAddress: String = "") {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.bodyStorage = RequestBody(body)
        self.remoteAddress = remoteAddress
    }

    /// The percent-decoded path, without the query.
    public var path: String {
        let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return HTTPRequest.percentDecode(raw, plusAsSpace: false) ?? raw
    }

    /// Query parameters in order (application/x-www-form-urlencoded decoding); nil for undecodable text.
    public var queryItems: [(name: String, value: String)]? {
        guard let q = target.firstIndex(of: "?") else { return [] }
        let query = target[target.index(after: q)...]
        var out: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = HTTPRequest.percentDecode(String(kv[0]), plusAsSpace: true),
                  let v = HTTPRequest.percentDecode(kv.count > 1 ? String(kv[1]) : "", plusAsSpace: true) else { return nil }
            out.append((k, v))
        }
        return out.map { (name: $0.0, value: $0.1) }
    }

    /// Whether the connection stays open after this request (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool {
        let tokens = headers.values("connection").flatMap { $0.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if version.minor == 0 { return tokens.contains("keep-alive") }
        return !tokens.contains("close")
    }

    static func percentDecode(_ s: String, plusAsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        var it = Array(s.utf8).makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else { return nil }
                bytes.append(hv << 4 | lv)
            } else if c == UInt8(ascii: "+") && plusAsSpace {
                bytes.append(0x20)
            } else {
                bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

import Foundation
