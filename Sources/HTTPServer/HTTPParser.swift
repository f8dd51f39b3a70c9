/// Strict HTTP/1.1 request parsing (RFC 9112). Anything ambiguous is refused rather than guessed:
/// bare CR or LF line ends, whitespace before a header's colon, obs-fold, control characters, a missing or
/// repeated Host, Content-Length with Transfer-Encoding, differing Content-Lengths, codings other than
/// chunked, malformed chunk sizes. Each refusal carries the status to answer with; the connection is
/// closed after it.
public enum HTTPParser {
    public struct Limits: Sendable {
        public var maxRequestLine = 8192
        public var maxHeaderBytes = 16384
        public var maxHeaderCount = 100
        public var maxBodyBytes = 64 << 20
        public init() {}
    }

    public struct Failure: Error, Equatable {
        public let status: Int
        public let message: String
        public init(_ status: Int, _ message: String) { self.status = status; self.message = message }
    }

    /// How the body is framed.
    public enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    public struct Head {
        public var method: String
        public var target: String
        public var version: (major: Int, minor: Int)
        public var headers: HTTPHeaders
        public var framing: Framing
        public var expectContinue: Bool
    }

    static let tokenChars: Set<UInt8> = Set(Array("!#$%&'*+-.^_`|~".utf8) + Array(0x30...0x39) + Array(0x41...0x5A) + Array(0x61...0x7A))

    /// Index just past the blank line ending the head, if the buffer holds one.
    public static func headEnd(_ b: [UInt8], from start: Int) -> Int? {
        var i = max(start, 3)
        while i < b.count {
            if b[i] == 0x0A && b[i - 1] == 0x0D && b[i - 2] == 0x0A && b[i - 3] == 0x0D { return i + 1 }
            i += 1
        }
        return nil
    }

    /// Checks a partial head for limits before it is complete (so that a client cannot make us buffer
    /// an endless request line or header block).
    public static func checkPartial(_ b: [UInt8], from start: Int = 0, limits: Limits) throws {
        // A bare LF can never end a head in CRLF form: refuse it now rather than wait for a timeout.
        var i = max(start, 0)
        while i < b.count {
            if b[i] == 0x0A && (i == 0 || b[i - 1] != 0x0D) { throw Failure(400, "bare LF in the request head") }
            i += 1
        }
        if let firstLF = b.firstIndex(of: 0x0A) {
            if firstLF > limits.maxRequestLine { throw Failure(414, "request line longer than \(limits.maxRequestLine) bytes") }
        } else if b.count > limits.maxRequestLine {
            throw Failure(414, "request line longer than \(limits.maxRequestLine) bytes")
        }
        if b.count > limits.maxRequestLine + limits.maxHeaderBytes {
            throw Failure(431, "header block larger than \(limits.maxHeaderBytes) bytes")
        }
    }

    /// Splits b[0..<end] into CRLF-terminated lines, refusing bare CR and LF.
    static func lines(_ b: ArraySlice<UInt8>) throws -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = b.startIndex
        var i = b.startIndex
        while i < b.endIndex {
            let c = b[i]
            if c == 0x0D {
                guard i + 1 < b.endIndex, b[i + 1] == 0x0A else { throw Failure(400, "bare CR in the request head") }
                out.append(b[start..<i])
                i += 2
                start = i
                continue
            }
            if c == 0x0A { throw Failure(400, "bare LF in the request head") }
            i += 1
        }
        return out
    }

    /// Parses a complete head (request line and header fields, through the blank line).
    public static func parseHead(_ b: ArraySlice<UInt8>, limits: Limits) throws -> Head {
        var ls = try lines(b)
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
        if let first = ls.first, first.isEmpty { ls.removeFirst() }
        guard let requestLine = ls.first else { throw Failure(400, "empty request") }
        guard requestLine.count <= limits.maxRequestLine else { throw Failure(414, "request line longer than \(limits.maxRequestLine) bytes") }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw Failure(400, "malformed request line") }
        let methodBytes = parts[0], targetBytes = parts[1], versionBytes = parts[2]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy({ tokenChars.contains($0) }) else { throw Failure(400, "malformed method") }
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw Failure(400, "malformed request target") }
        let version = try parseVersion(versionBytes)
        let method = String(decoding: methodBytes, as: UTF8.self)
        var target = String(decoding: targetBytes, as: UTF8.self)
        if !target.hasPrefix("/") {
            if target == "*" && method == "OPTIONS" {
                // asterisk-form
            } else if let r = target.range(of: "://"), target.lowercased().hasPrefix("http") {
                // absolute-form: keep the path and query
                let rest = target[r.upperBound...]
                target = rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
            } else {
                throw Failure(400, "request target must be a path")
            }
        }
        var headers = HTTPHeaders()
        var headerBytes = 0
        for line in ls.dropFirst() {
            if line.isEmpty { continue }
            headerBytes += line.count + 2
            if line.first == 0x20 || line.first == 0x09 { throw Failure(400, "obsolete line folding in a header") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw Failure(400, "header line without a colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy({ tokenChars.contains($0) }) else {
                throw Failure(400, "malformed header name")
            }
            var value = line[(colon + 1)...]
            while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
            while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw Failure(400, "control character in header \(String(decoding: name, as: UTF8.self))")
            }
            headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
            if headers.fields.count > limits.maxHeaderCount { throw Failure(431, "more than \(limits.maxHeaderCount) header fields") }
        }
        if headerBytes > limits.maxHeaderBytes { throw Failure(431, "header block larger than \(limits.maxHeaderBytes) bytes") }
        if version.minor == 1 {
            let hosts = headers.values("host")
            guard hosts.count == 1 else { throw Failure(400, hosts.isEmpty ? "missing Host header" : "more than one Host header") }
        }
        let framing = try framing(headers, version: version, limits: limits)
        let expect = headers.values("expect").map { $0.lowercased() }
        if !expect.isEmpty && expect != ["100-continue"] { throw Failure(417, "only Expect: 100-continue is supported") }
        return Head(method: method, target: target, version: version, headers: headers, framing: framing,
                    expectContinue: expect == ["100-continue"] && version.minor == 1)
    }

    static func parseVersion(_ v: ArraySlice<UInt8>) throws -> (major: Int, minor: Int) {
        let s = Array(v)
        guard s.count == 8, Array(s[0..<5]) == Array("HTTP/".utf8), (0x30...0x39).contains(s[5]), s[6] == 0x2E,
              (0x30...0x39).contains(s[7]) else { throw Failure(400, "malformed HTTP version") }
        let major = Int(s[5] - 0x30), minor = Int(s[7] - 0x30)
        guard major == 1 && (minor == 0 || minor == 1) else { throw Failure(505, "HTTP/\(major).\(minor) is not supported") }
        return (major, minor)
    }

    static func framing(_ h: HTTPHeaders, version: (major: Int, minor: Int), limits: Limits) throws -> Framing {
        let te = h.values("transfer-encoding")
        let cl = h.values("content-length")
        if !te.isEmpty {
            guard cl.isEmpty else { throw Failure(400, "both Content-Length and Transfer-Encoding") }
            guard version.minor == 1 else { throw Failure(400, "Transfer-Encoding in an HTTP/1.0 request") }
            let codings = te.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard codings == ["chunked"] else { throw Failure(501, "only the chunked transfer coding is supported") }
            return .chunked
        }
        guard !cl.isEmpty else { return .none }
        let values = cl.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = values.first, values.allSatisfy({ $0 == first }) else { throw Failure(400, "differing Content-Length values") }
        guard !first.isEmpty, first.count <= 18, first.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = Int(first) else {
            throw Failure(400, "malformed Content-Length")
        }
        if n > limits.maxBodyBytes { throw Failure(413, "body larger than \(limits.maxBodyBytes) bytes") }
        return n == 0 ? .none : .length(n)
    }

    /// Incremental decoder of a chunked body.
    public struct ChunkedDecoder {
        enum State { case size, data(Int), dataCRLF, trailer, done }
        var state = State.size
        public private(set) var body: [UInt8] = []
        /// Data bytes decoded so far (including those taken out of `body`).
        public private(set) var total = 0
        let maxBody: Int
        var trailerBytes = 0

        public init(maxBody: Int) { self.maxBody = maxBody }

        public var isDone: Bool { if case .done = state { return true }; return false }

        /// Hands over the data decoded so far (for a body spooled to a file as it arrives).
        public mutating func takeBody() -> [UInt8] {
            defer { body = [] }
            return body
        }

        /// Consumes what it can from b[start...]; returns the new start. Throws on malformed input.
        public mutating func feed(_ b: [UInt8], from start: Int) throws -> Int {
            var i = start
            while true {
                switch state {
                case .done: return i
                case .size, .trailer:
                    guard let lf = b[i...].firstIndex(of: 0x0A) else {
                        if b.count - i > 4096 { throw Failure(400, "chunk size line too long") }
                        return i
                    }
                    guard lf > i, b[lf - 1] == 0x0D else { throw Failure(400, "bare LF in chunked framing") }
                    let line = b[i..<(lf - 1)]
                    i = lf + 1
                    if case .trailer = state {
                        if line.isEmpty { state = .done; continue }
                        trailerBytes += line.count
                        if trailerBytes > 8192 { throw Failure(431, "trailer section too large") }
                        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                              line[line.startIndex..<colon].allSatisfy({ tokenChars.contains($0) }),
                              !line.contains(0x0D) else { throw Failure(400, "malformed trailer field") }
                        continue
                    }
                    let sizePart = line.prefix { $0 != UInt8(ascii: ";") }
                    guard !sizePart.isEmpty, sizePart.count <= 15,
                          sizePart.allSatisfy({ HTTPRequest.hexValue($0) != nil }) else { throw Failure(400, "malformed chunk size") }
                    guard line.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw Failure(400, "control character in chunk extension") }
                    let size = sizePart.reduce(0) { $0 * 16 + Int(HTTPRequest.hexValue($1)!) }
                    if total + size > maxBody { throw Failure(413, "body larger than \(maxBody) bytes") }
                    state = size == 0 ? .trailer : .data(size)
                case .data(let remaining):
                    let take = min(remaining, b.count - i)
                    if take == 0 { return i }
                    body.append(contentsOf: b[i..<(i + take)])
                    total += take
                    i += take
                    state = remaining - take == 0 ? .dataCRLF : .data(remaining - take)
                case .dataCRLF:
                    guard b.count - i >= 2 else { return i }
                    guard b[i] == 0x0D && b[i + 1] == 0x0A else { throw Failure(400, "chunk data not followed by CRLF") }
                    i += 2
                    state = .size
                }
            }
        }
    }
}

import Foundation
