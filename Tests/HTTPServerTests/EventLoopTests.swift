import COpenSSL
import Foundation
import Glibc
import HTTPServer
import TestSupport
import Testing

/// Answers `/big` with 8 MiB of a known pattern, `/events` with a stream that waits between chunks (awaiting, so
/// it holds no thread), anything else with a short text.
struct BulkResponder: HTTPResponder {
    static let big: [UInt8] = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }

    /// What `/stream` has seen of its body.
    static let progress = LockedText()

    func respond(to r: HTTPRequest) async -> HTTPResponse {
        switch r.path {
        case "/big":
            return HTTPResponse(status: 200, contentType: "application/octet-stream", body: BulkResponder.big)
        case "/events":
            return HTTPResponse(status: 200, headers: HTTPHeaders([("Content-Type", "text/event-stream")]), body: .stream { s in
                for i in 0..<3 {
                    try await Task.sleep(nanoseconds: 50_000_000)
                    try await s.write("data: \(i)\n\n")
                }
            })
        case "/sum":
            do { try await r.bodyStorage.whole() } catch { return .text(400, "\(error)") }
            let body = r.body
            return .text(200, "n=\(body.count) sum=\(body.reduce(0) { $0 &+ Int($1) }) spooled=\(r.bodyStorage.isSpooled)")
        case "/stream":
            // Reads the body as it arrives, noting how far it had got when the first bytes came.
            var offset = 0, sum = 0
            do {
                while true {
                    let chunk = try await r.bodyStorage.read(at: offset, upTo: 1 << 16)
                    if chunk.isEmpty { break }
                    if offset == 0 { BulkResponder.progress.value = "first bytes" }
                    offset += chunk.count
                    sum = chunk.reduce(sum) { $0 &+ Int($1) }
                }
            } catch {
                BulkResponder.progress.value = "broke off after \(offset): \(error)"
                return .text(400, "\(error)")
            }
            BulkResponder.progress.value = "done"
            return .text(200, "n=\(offset) sum=\(sum)")
        case "/refuse":
            // Answers before reading any of the body.
            return .text(403, "refused")
        default:
            return .text(200, "ok \(r.path) secure=\(r.isSecure)")
        }
    }
}

final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    var value: String {
        get { lock.withLock { text } }
        set { lock.withLock { text = newValue } }
    }
}

/// Raises this process's soft descriptor limit as far as the hard one allows; returns it.
func raiseDescriptorLimit() -> Int {
    var l = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l)
    l.rlim_cur = l.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &l)
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l)
    return l.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(l.rlim_cur)
}

/// What the event-driven server adds: thousands of open connections without a thread each, writes paced by the
/// reader without holding up anyone else, and deadlines on readers that stop reading.
@Suite(.serialized) struct EventLoopTests {
    static func server(_ edit: (inout HTTPServer.Configuration) -> Void = { _ in }) throws -> HTTPServer {
        var c = HTTPServer.Configuration()
        c.port = 0
        edit(&c)
        let s = HTTPServer(configuration: c, responder: BulkResponder())
        try s.start()
        return s
    }

    /// A server that hands bodies past 64 KiB to the responder while they arrive.
    static func streamingServer() throws -> HTTPServer {
        try server {
            $0.spoolThreshold = 64 << 10
            $0.limits.maxBodyBytes = 8 << 20
            $0.streamBodies = true
        }
    }

    /// 5000 keep-alive connections (each has had an answer and stays open), and a new client is still answered
    /// at once. Client and server share this process, so each connection takes two descriptors; the test scales
    /// down if the hard limit does not allow 5000.
    @Test func fiveThousandIdleConnections() throws {
        let limit = raiseDescriptorLimit()
        let n = min(5000, (limit - 200) / 2)
        let s = try Self.server()
        defer { s.shutdown(grace: 2) }
        var clients: [RawClient] = []
        clients.reserveCapacity(n)
        for i in 0..<n {
            let c = try RawClient(port: s.port)
            if i % 10 == 0 {
                // Every tenth has had an answer (keep-alive); the others are connected and have sent nothing.
                c.send("GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(c.read(until: "secure=false").hasPrefix("HTTP/1.1 200"))
            }
            clients.append(c)
        }
        let deadline = Date().addingTimeInterval(10)
        while s.connectionCount < n && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(s.connectionCount == n, "\(s.connectionCount) of \(n) open")
        let fresh = try RawClient(port: s.port)
        let t0 = Date()
        fresh.send("GET /fresh HTTP/1.1\r\nHost: h\r\n\r\n")
        let answer = fresh.read(until: "secure=false")
        let seconds = Date().timeIntervalSince(t0)
        #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains("ok /fresh"))
        #expect(seconds < 0.5, "a fresh request beside \(n) open connections took \(seconds) s")
        // The old ones are all still served.
        for c in clients.indices.filter({ $0 % 500 == 1 }).map({ clients[$0] }) {
            c.send("GET /again HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(c.read(until: "secure=false").contains("ok /again"))
        }
        print("held \(n) connections (descriptor limit \(limit)); a fresh request answered in \(String(format: "%.1f", seconds * 1000)) ms")
    }

    /// A client that asks for 8 MiB and does not read: its answer waits in the socket and the server's buffer,
    /// while other clients are answered at once; when it reads, it gets every byte intact.
    @Test func slowReaderDoesNotBlockOthers() throws {
        let s = try Self.server { $0.loops = 1 }  // everything on one loop: the slow reader shares it with the others
        defer { s.shutdown(grace: 1) }
        // 8 MiB is more than the socket buffers hold: the rest waits in the server's buffer until the client reads.
        let slow = try RawClient(port: s.port)
        slow.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        for i in 0..<20 {
            let c = try RawClient(port: s.port)
            let t0 = Date()
            c.send("GET /quick\(i) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(c.read(until: "secure=false").contains("ok /quick\(i)"))
            #expect(Date().timeIntervalSince(t0) < 0.5)
        }
        // Streams go on beside it too.
        let e = try RawClient(port: s.port)
        e.send("GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(e.read(until: "0\r\n\r\n").contains("data: 2"))
        // Now the slow client reads everything.
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var headEnd: Int? = nil
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let n = recv(slow.fd, &buf, buf.count, 0)
            if n <= 0 { break }
            got.append(contentsOf: buf[0..<n])
            if headEnd == nil, got.count >= 4 {
                headEnd = (3..<min(got.count, 4096)).first { got[$0 - 3..<$0 + 1].elementsEqual([13, 10, 13, 10]) }.map { $0 + 1 }
            }
            if let h = headEnd, got.count - h >= BulkResponder.big.count { break }
        }
        let h = try #require(headEnd)
        let body = Array(got[h...])
        let firstDifference = zip(body, BulkResponder.big).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(body.count == BulkResponder.big.count && firstDifference == nil,
                "the body arrived whole and in order (\(body.count) bytes, first difference at \(firstDifference ?? -1))")
    }

    /// A client that never reads its answer is closed once a write has made no progress for the send timeout.
    @Test func readerThatStopsIsClosed() throws {
        let s = try Self.server { $0.sendTimeout = 0.5 }
        defer { s.shutdown(grace: 1) }
        let stuck = try RawClient(port: s.port)
        var small: Int32 = 4096
        setsockopt(stuck.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        stuck.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        let deadline = Date().addingTimeInterval(5)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(s.connectionCount == 1)
        while s.connectionCount > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(s.connectionCount == 0, "the stalled connection is closed after the send timeout")
    }

    /// Bodies past the spool threshold go to a file as they arrive (length-framed or chunked) and reach the
    /// handler intact; smaller ones stay in memory; the body limit still holds for spooled chunked bodies.
    @Test func largeBodiesAreSpooled() throws {
        let s = try Self.server {
            $0.spoolThreshold = 64 << 10
            $0.limits.maxBodyBytes = 2 << 20
        }
        defer { s.shutdown(grace: 1) }
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let sum = big.reduce(0) { $0 &+ Int($1) }
        let c = try RawClient(port: s.port)
        c.send("POST /sum HTTP/1.1\r\nHost: h\r\nContent-Length: \(big.count)\r\n\r\n")
        for i in stride(from: 0, to: big.count, by: 100_000) {
            c.send(Array(big[i..<min(big.count, i + 100_000)]))
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(c.read(until: "spooled=").contains("n=\(big.count) sum=\(sum) spooled=true"))
        #expect(s.spooledBodies == 1)
        // Chunked, in pieces of 30 000 bytes, on the same connection.
        let part = Array(big.prefix(300_000))
        var chunked = "POST /sum HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        c.send(chunked)
        for i in stride(from: 0, to: part.count, by: 30_000) {
            c.send(Array((String(30_000, radix: 16) + "\r\n").utf8) + Array(part[i..<(i + 30_000)]) + Array("\r\n".utf8))
        }
        c.send("0\r\n\r\n")
        #expect(c.read(until: "spooled=", count: 1, timeout: 5).contains("n=300000 sum=\(part.reduce(0) { $0 &+ Int($1) }) spooled=true"))
        #expect(s.spooledBodies == 2)
        // A small body stays in memory.
        c.send("POST /sum HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        #expect(c.read(until: "spooled=").contains("n=3 sum=294 spooled=false"))
        #expect(s.spooledBodies == 2)
        // Past the body limit in chunks: 413, though the data went to a file.
        let over = try RawClient(port: s.port)
        chunked = "POST /sum HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        over.send(chunked)
        for _ in 0..<30 { over.send(Array((String(100_000, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 1, count: 100_000) + Array("\r\n".utf8)) }
        #expect(over.read(until: "\r\n\r\n", timeout: 5).hasPrefix("HTTP/1.1 413 "))
    }

    /// A large body reaches the handler while it arrives: the handler has read the first bytes before the client
    /// sends the rest; a client that leaves mid-body stops the handler's reading with an error.
    @Test func largeBodiesStreamToTheHandler() throws {
        let s = try Self.streamingServer()
        defer { s.shutdown(grace: 1) }
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let sum = big.reduce(0) { $0 &+ Int($1) }
        BulkResponder.progress.value = ""
        let c = try RawClient(port: s.port)
        c.send("POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: \(big.count)\r\n\r\n")
        c.send(Array(big[0..<(1 << 20)]))
        let t0 = Date()
        while BulkResponder.progress.value.isEmpty && Date().timeIntervalSince(t0) < 5 { Thread.sleep(forTimeInterval: 0.005) }
        #expect(BulkResponder.progress.value == "first bytes", "the handler read before the rest of the body was sent")
        c.send(Array(big[(1 << 20)...]))
        #expect(c.read(until: "sum=\(sum)", timeout: 5).contains("n=\(big.count) sum=\(sum)"))
        #expect(BulkResponder.progress.value == "done")
        // The same connection goes on.
        c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(c.read(until: "secure=").contains("ok /x"))
        // In chunked encoding: handed over once past the threshold, its end known at the last chunk.
        BulkResponder.progress.value = ""
        c.send("POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        func chunks(_ r: Range<Int>) -> [UInt8] {
            stride(from: r.lowerBound, to: r.upperBound, by: 100_000).flatMap { i -> [UInt8] in
                let part = big[i..<min(r.upperBound, i + 100_000)]
                return Array((String(part.count, radix: 16) + "\r\n").utf8) + part + Array("\r\n".utf8)
            }
        }
        c.send(chunks(0..<(1 << 20)))
        let t2 = Date()
        while BulkResponder.progress.value.isEmpty && Date().timeIntervalSince(t2) < 5 { Thread.sleep(forTimeInterval: 0.005) }
        #expect(BulkResponder.progress.value == "first bytes", "the handler read a chunked body before its end was sent")
        c.send(chunks((1 << 20)..<big.count) + Array("0\r\n\r\n".utf8))
        #expect(c.read(until: "sum=\(sum)", timeout: 5).contains("n=\(big.count) sum=\(sum)"))
        #expect(BulkResponder.progress.value == "done")
        c.send("GET /y HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(c.read(until: "secure=").contains("ok /y"))
        // A chunked body that goes past the body limit after it was handed over: 413, and the handler's reading
        // breaks off.
        BulkResponder.progress.value = ""
        let over = try RawClient(port: s.port)
        over.send("POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<90 { over.send(Array((String(100_000, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 1, count: 100_000) + Array("\r\n".utf8)) }
        #expect(over.read(until: "\r\n\r\n", timeout: 5).hasPrefix("HTTP/1.1 413 "))
        let t3 = Date()
        while !BulkResponder.progress.value.hasPrefix("broke off") && Date().timeIntervalSince(t3) < 5 { Thread.sleep(forTimeInterval: 0.005) }
        #expect(BulkResponder.progress.value.hasPrefix("broke off after "), "\(BulkResponder.progress.value)")

        // A client that leaves half-way.
        BulkResponder.progress.value = ""
        let gone = try RawClient(port: s.port)
        gone.send("POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: \(big.count)\r\n\r\n")
        gone.send(Array(big[0..<(1 << 20)]))
        while BulkResponder.progress.value.isEmpty && Date().timeIntervalSince(t0) < 10 { Thread.sleep(forTimeInterval: 0.005) }
        gone.close()
        let t1 = Date()
        while !BulkResponder.progress.value.hasPrefix("broke off") && Date().timeIntervalSince(t1) < 5 { Thread.sleep(forTimeInterval: 0.005) }
        #expect(BulkResponder.progress.value.hasPrefix("broke off after "), "\(BulkResponder.progress.value)")
    }

    /// An answer that comes before the body (a refusal) arrives whole while the client is still sending, and the
    /// connection then closes cleanly: the rest of the body is read and discarded, not answered with a reset.
    @Test func earlyAnswerToALargeBody() throws {
        let s = try Self.streamingServer()
        defer { s.shutdown(grace: 1) }
        let c = try RawClient(port: s.port)
        c.send("POST /refuse HTTP/1.1\r\nHost: h\r\nContent-Length: \(2 << 20)\r\n\r\n")
        c.send([UInt8](repeating: 7, count: 200_000))
        let answer = c.read(until: "refused")
        #expect(answer.hasPrefix("HTTP/1.1 403 ") && answer.contains("Connection: close") && answer.hasSuffix("refused"))
        // The client sends the rest regardless; the server reads it away and closes with a FIN.
        c.send([UInt8](repeating: 7, count: (2 << 20) - 200_000))
        #expect(c.isClosedByPeer(timeout: 3))
        // A chunked body refused once it was handed over (past 64 KiB): the same.
        let chunkedClient = try RawClient(port: s.port)
        chunkedClient.send("POST /refuse HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunkedClient.send(Array((String(200_000, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 7, count: 200_000) + Array("\r\n".utf8))
        let chunkedAnswer = chunkedClient.read(until: "refused")
        #expect(chunkedAnswer.hasPrefix("HTTP/1.1 403 ") && chunkedAnswer.contains("Connection: close"))
        chunkedClient.send(Array((String(200_000, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 7, count: 200_000) + Array("\r\n0\r\n\r\n".utf8))
        #expect(chunkedClient.isClosedByPeer(timeout: 3))
        // With `Expect: 100-continue`, the refusal comes instead of the 100 (the client need send nothing); a
        // handler that reads gets its 100 when it first waits for the body.
        let asks = try RawClient(port: s.port)
        asks.send("POST /refuse HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: \(2 << 20)\r\n\r\n")
        let refused = asks.read(until: "refused")
        #expect(refused.hasPrefix("HTTP/1.1 403 ") && !refused.contains("100 Continue"), "\(refused.prefix(200))")
        let reads = try RawClient(port: s.port)
        reads.send("POST /stream HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: \(2 << 20)\r\n\r\n")
        #expect(reads.read(until: "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n")
        reads.send([UInt8](repeating: 1, count: 2 << 20))
        #expect(reads.read(until: "sum=\(2 << 20)", timeout: 5).contains("n=\(2 << 20) sum=\(2 << 20)"))
        asks.close()
        reads.close()
        let t0 = Date()
        while s.connectionCount > 0 && Date().timeIntervalSince(t0) < 3 { Thread.sleep(forTimeInterval: 0.01) }
        #expect(s.connectionCount == 0)
    }

    /// Past the connection limit new connections get 503 at once while the open ones go on.
    @Test func limitRefusesNewConnectionsOnly() throws {
        let s = try Self.server { $0.maxConnections = 50 }
        defer { s.shutdown(grace: 1) }
        let open = try (0..<50).map { _ in try RawClient(port: s.port) }
        let deadline = Date().addingTimeInterval(5)
        while s.connectionCount < 50 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let extra = try RawClient(port: s.port)
        let refused = extra.readAll(timeout: 2)
        #expect(refused.hasPrefix("HTTP/1.1 503 ") && refused.contains("Retry-After: 1"))
        for c in [open[0], open[49]] {
            c.send("GET /still HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(c.read(until: "secure=false").contains("ok /still"))
        }
    }
}
