import Glibc
import Foundation
import HTTPServer
import TestSupport
import Testing

/// Echoes the request: method, path, body; `/slow` sleeps; `/stream` writes three chunks.
struct EchoResponder: HTTPResponder {
    func respond(to r: HTTPRequest) -> HTTPResponse {
        switch r.path {
        case "/slow":
            Thread.sleep(forTimeInterval: 0.5)
            return .text(200, "slow done")
        case "/stream":
            var h = HTTPHeaders()
            h.add("Content-Type", "text/event-stream")
            return HTTPResponse(status: 200, headers: h, body: .stream { s in
                for i in 0..<3 { try s.write("data: \(i)\n\n") }
            })
        default:
            let q = (r.queryItems ?? []).map { "\($0.name)=\($0.value)" }.joined(separator: "&")
            return .text(200, "\(r.method) \(r.path) \(q) body=\(String(decoding: r.body, as: UTF8.self))")
        }
    }
}

@Suite(.serialized) struct HTTPServerTests {
    static func server(_ edit: (inout HTTPServer.Configuration) -> Void = { _ in }) throws -> HTTPServer {
        var c = HTTPServer.Configuration()
        c.port = 0
        c.requestTimeout = 0.5
        c.idleTimeout = 1
        c.limits.maxBodyBytes = 1000
        c.limits.maxRequestLine = 200
        c.limits.maxHeaderBytes = 500
        edit(&c)
        let s = HTTPServer(configuration: c, responder: EchoResponder())
        try s.start()
        return s
    }

    @Test func keepAliveAndPipelining() throws {
        let s = try Self.server()
        defer { s.shutdown(grace: 1) }
        let c = try RawClient(port: s.port)
        c.send("GET /a?x=1&y=a%20b HTTP/1.1\r\nHost: h\r\n\r\n")
        let first = c.read(until: "body=")
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(first.contains("GET /a x=1&y=a b body="))
        // Three pipelined requests in one write, answered in order on the same connection.
        c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        let three = c.read(until: "HTTP/1.1 200", count: 3)
        let i1 = three.range(of: "GET /1")!.lowerBound, i2 = three.range(of: "POST /2  body=abc")!.lowerBound
        let i3 = three.range(of: "GET /3")!.lowerBound
        #expect(i1 < i2 && i2 < i3)
        #expect(!c.isClosedByPeer(timeout: 0.2))
    }

    @Test func bodiesChunkedContinueAndHead() throws {
        let s = try Self.server()
        defer { s.shutdown(grace: 1) }
        let c = try RawClient(port: s.port)
        c.send("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
        #expect(c.read(until: "body=abcde").contains("body=abcde"))
        c.send("POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        #expect(c.read(until: "100 Continue\r\n\r\n").hasPrefix("HTTP/1.1 100 Continue"))
        c.send("hi")
        #expect(c.read(until: "body=hi").contains("200 OK"))
        c.send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n")
        let head = c.read(until: "\r\n\r\n")
        #expect(head.contains("Content-Length: 14"))
        #expect(!c.readAll(timeout: 0.2).contains("HEAD"), "HEAD has no body")
    }

    @Test func streamedResponses() throws {
        let s = try Self.server()
        defer { s.shutdown(grace: 1) }
        let c = try RawClient(port: s.port)
        c.send("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
        let r = c.read(until: "0\r\n\r\n")
        #expect(r.contains("Transfer-Encoding: chunked"))
        #expect(r.contains("9\r\ndata: 0\n\n\r\n") && r.hasSuffix("0\r\n\r\n"))
        // HTTP/1.0: no chunking, the end of the body is the end of the connection.
        let c10 = try RawClient(port: s.port)
        c10.send("GET /stream HTTP/1.0\r\n\r\n")
        let r10 = c10.readAll()
        #expect(r10.contains("data: 0\n\ndata: 1\n\ndata: 2\n\n") && !r10.contains("chunked"))
    }

    /// Each malformed request gets its status and a closed connection.
    @Test(arguments: [
        ("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400),
        ("GET /\r\nHost: h\r\n\r\n", 400),
        ("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nBad Name: x\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nName : x\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: h\n\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{01}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", 417),
        ("GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X-Long: " + String(repeating: "v", count: 90) + "\r\n", count: 8) + "\r\n", 431),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n", 413),
    ])
    func malformedRequests(raw: String, status: Int) throws {
        let s = try Self.server()
        defer { s.shutdown(grace: 1) }
        let c = try RawClient(port: s.port)
        c.send(raw)
        let r = c.readAll(timeout: 2)
        #expect(r.hasPrefix("HTTP/1.1 \(status) "), "got \(r.prefix(60))")
        #expect(r.contains("Connection: close"))
        #expect(c.isClosedByPeer(timeout: 0.5))
    }

    /// A client still sending a long request when the server refuses it (414, 431, 413) gets the answer, then an
    /// orderly end of stream: the server sends FIN and keeps draining what arrives for a bounded time, so the
    /// client's writes meanwhile succeed; closing with unread bytes instead would reset the connection (the
    /// client's writes fail, and an answer not yet read can be dropped by its TCP).
    @Test(arguments: [("GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\n", 414),
                      ("GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X-Long: " + String(repeating: "v", count: 90) + "\r\n", count: 8), 431),
                      ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 900000\r\n\r\n", 413)])
    func lingeringCloseKeepsTheAnswer(head: String, status: Int) throws {
        let s = try Self.server()
        defer { s.shutdown(grace: 1) }
        let c = try RawClient(port: s.port)
        c.send(head)
        let answer = c.read(until: "\r\n\r\n", timeout: 2)
        #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "got \(answer.prefix(60))")
        Thread.sleep(forTimeInterval: 0.1)  // the server has closed its side by now
        // The rest of the request, still on its way: every write succeeds while the server drains.
        let filler = [UInt8](repeating: UInt8(ascii: "x"), count: 20_000)
        var failures = 0
        for _ in 0..<5 {
            let n = filler.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { failures += 1 }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(failures == 0, "writes after the answer failed \(failures) times: the connection was reset")
        #expect(c.isClosedByPeer(timeout: 3))
    }

    @Test func timeouts() throws {
        let s = try Self.server()
        defer { s.shutdown(grace: 1) }
        // A request that stops half way: 408 after the request timeout, then closed.
        let slow = try RawClient(port: s.port)
        slow.send("GET / HTTP/1.1\r\nHo")
        let t0 = Date()
        let r = slow.readAll(timeout: 3)
        #expect(r.hasPrefix("HTTP/1.1 408 "))
        #expect(Date().timeIntervalSince(t0) < 2)
        // A connection that never sends: closed after the idle timeout, without an answer.
        let idle = try RawClient(port: s.port)
        #expect(idle.isClosedByPeer(timeout: 3))
        // Slowloris: a byte every 200 ms does not extend the request deadline.
        let drip = try RawClient(port: s.port)
        let start = Date()
        var answered = ""
        for ch in "GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaa" {
            drip.send(String(ch))
            Thread.sleep(forTimeInterval: 0.1)
            answered += drip.readAll(timeout: 0.01)
            if answered.contains("408") || Date().timeIntervalSince(start) > 3 { break }
        }
        #expect(answered.hasPrefix("HTTP/1.1 408 "))
    }

    @Test func connectionCap() throws {
        let s = try Self.server { $0.maxConnections = 2 }
        defer { s.shutdown(grace: 1) }
        let a = try RawClient(port: s.port), b = try RawClient(port: s.port)
        Thread.sleep(forTimeInterval: 0.1)
        let c = try RawClient(port: s.port)
        #expect(c.readAll().hasPrefix("HTTP/1.1 503 "))
        a.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(a.read(until: "body=").hasPrefix("HTTP/1.1 200"))
        _ = b
    }

    @Test func ipv6AndIPv4() throws {
        let s = try Self.server { $0.hosts = ["127.0.0.1", "::1"] }
        defer { s.shutdown(grace: 1) }
        for host in ["127.0.0.1", "::1"] {
            let c = try RawClient(host: host, port: s.port)
            c.send("GET /v HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let r = c.readAll()
            #expect(r.hasPrefix("HTTP/1.1 200") && r.contains("Connection: close"), "\(host)")
        }
    }

    /// Shutdown lets the response in flight finish, closes idle connections, and stops accepting.
    @Test func gracefulShutdown() throws {
        let s = try Self.server()
        let busy = try RawClient(port: s.port), idle = try RawClient(port: s.port)
        busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var drained = false
        DispatchQueue.global().async { drained = s.shutdown(grace: 3); done.signal() }
        let r = busy.readAll(timeout: 2)
        #expect(r.contains("slow done") && r.contains("Connection: close"))
        #expect(idle.isClosedByPeer(timeout: 2))
        done.wait()
        #expect(drained)
        #expect((try? RawClient(port: s.port)) == nil || (try! RawClient(port: s.port)).readAll(timeout: 0.5).isEmpty)
    }
}
