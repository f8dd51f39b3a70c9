import COpenSSL
import Foundation
import Glibc
import HTTPServer
import TestSupport
import Testing

/// HTTPS through OpenSSL, with a CA and certificate made here by the `openssl` command: versions, ALPN, the
/// handshake deadline, pipelining over TLS, reload without dropping connections, and the start-up errors.
@Suite(.serialized) struct TLSTests {
    static func server(_ certs: TestCertificates, _ edit: (inout HTTPServer.Configuration) -> Void = { _ in }) throws -> HTTPServer {
        var c = HTTPServer.Configuration()
        c.port = 0
        c.tls = TLSConfiguration(certificatePath: certs.certificate, privateKeyPath: certs.privateKey, handshakeTimeout: 0.5)
        c.requestTimeout = 1
        edit(&c)
        let s = HTTPServer(configuration: c, responder: BulkResponder())
        try s.start()
        return s
    }

    @Test func versionsAndALPN() throws {
        let certs = try TestCertificates()
        let s = try Self.server(certs)
        defer { s.shutdown(grace: 1) }
        let c = try TLSClient(port: s.port, caFile: certs.caFile)
        #expect(c.version == "TLSv1.3" && c.alpnSelected == "http/1.1")
        c.send("GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(c.read(until: "secure=true").hasPrefix("HTTP/1.1 200"))
        // TLS 1.2 is served; 1.1 and 1.0 are refused by the server (the client offers them).
        let v12 = try TLSClient(port: s.port, caFile: certs.caFile, versions: (TLS1_2_VERSION, TLS1_2_VERSION))
        #expect(v12.version == "TLSv1.2")
        for old in [TLS1_1_VERSION, TLS1_VERSION] {
            let e = #expect(throws: TLSClient.HandshakeFailed.self) { try TLSClient(port: s.port, caFile: certs.caFile, versions: (old, old)) }
            #expect(e?.description.contains("protocol version") == true, "\(e?.description ?? "")")
        }
        // ALPN: a client offering only h2 is refused; one offering nothing is served.
        #expect(throws: TLSClient.HandshakeFailed.self) { try TLSClient(port: s.port, caFile: certs.caFile, alpn: ["h2"]) }
        let none = try TLSClient(port: s.port, caFile: certs.caFile, alpn: [])
        #expect(none.alpnSelected == "")
        let both = try TLSClient(port: s.port, caFile: certs.caFile, alpn: ["h2", "http/1.1"])
        #expect(both.alpnSelected == "http/1.1")
    }

    /// Three requests in one TLS write, answered in order on the connection; a large answer arrives whole.
    @Test func pipeliningOverTLS() throws {
        let certs = try TestCertificates()
        let s = try Self.server(certs)
        defer { s.shutdown(grace: 1) }
        let c = try TLSClient(port: s.port, caFile: certs.caFile)
        c.send("GET /1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /3 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let three = c.read(until: "secure=true", count: 3)
        let order = ["ok /1", "ok /2", "ok /3"].map { three.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil } && order[0]! < order[1]! && order[1]! < order[2]!)
        c.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(c.read(until: "0\r\n\r\n").contains("data: 2\n\n"))
        c.send("GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let big = c.readAll(timeout: 20)
        let head = String(decoding: big.prefix(300), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Length: \(BulkResponder.big.count)"))
        #expect(big.count > BulkResponder.big.count && big.suffix(BulkResponder.big.count).elementsEqual(BulkResponder.big),
                "the whole body arrived before the close (\(big.count) bytes)")
    }

    /// A client that connects and sends nothing (or half a handshake) is closed after the handshake deadline.
    @Test func stalledHandshakeIsClosed() throws {
        let certs = try TestCertificates()
        let s = try Self.server(certs)
        defer { s.shutdown(grace: 1) }
        let silent = try RawClient(port: s.port)
        let t0 = Date()
        #expect(silent.isClosedByPeer(timeout: 3))
        #expect(Date().timeIntervalSince(t0) < 1.5)
        // Half a ClientHello: the first bytes of a TLS record, then nothing.
        let half = try RawClient(port: s.port)
        half.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        #expect(half.isClosedByPeer(timeout: 3))
        // Plain HTTP on the TLS port is not a handshake: closed at once.
        let plain = try RawClient(port: s.port)
        plain.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(plain.isClosedByPeer(timeout: 1))
        #expect(s.connectionCount == 0)
    }

    /// A new certificate is served after a reload; a connection opened before keeps working; a broken file
    /// leaves the old certificate in use.
    @Test func reload() throws {
        let certs = try TestCertificates()
        let s = try Self.server(certs) { $0.idleTimeout = 30 }
        defer { s.shutdown(grace: 1) }
        let first = try certs.fingerprint(certs.certificate)
        let before = try TLSClient(port: s.port, caFile: certs.caFile)
        #expect(before.peerFingerprint == first)
        before.send("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(before.read(until: "secure=true").contains("ok /x"))
        try certs.issue(name: "server")  // a new key and certificate in the same files
        let second = try certs.fingerprint(certs.certificate)
        #expect(second != first)
        try s.reloadTLS()
        #expect(try TLSClient(port: s.port, caFile: certs.caFile).peerFingerprint == second)
        before.send("GET /y HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(before.read(until: "secure=true").contains("ok /y"), "the connection from before the reload is still served")
        // A key that does not match: the reload fails and says so; the current certificate stays.
        try certs.issue(name: "other")
        try FileManager.default.removeItem(atPath: certs.privateKey)
        try FileManager.default.copyItem(atPath: certs.directory.appendingPathComponent("other.key").path, toPath: certs.privateKey)
        let e = #expect(throws: TLSError.self) { try s.reloadTLS() }
        #expect(e?.description.contains("does not match") == true, "\(e?.description ?? "")")
        #expect(try TLSClient(port: s.port, caFile: certs.caFile).peerFingerprint == second)
    }

    @Test func startupErrors() throws {
        let certs = try TestCertificates()
        func start(cert: String, key: String) -> String {
            var c = HTTPServer.Configuration()
            c.port = 0
            c.tls = TLSConfiguration(certificatePath: cert, privateKeyPath: key)
            do {
                let s = HTTPServer(configuration: c, responder: BulkResponder())
                try s.start()
                s.shutdown(grace: 0)
                return "started"
            } catch { return "\(error)" }
        }
        #expect(start(cert: "/nonexistent.pem", key: certs.privateKey).contains("no such file"))
        #expect(start(cert: certs.privateKey, key: certs.privateKey).contains("not a PEM certificate"))
        #expect(start(cert: certs.certificate, key: certs.certificate).contains("not a PEM private key"))
        try certs.issue(name: "other")
        #expect(start(cert: certs.certificate, key: certs.directory.appendingPathComponent("other.key").path).contains("does not match"))
        if getuid() != 0 {
            chmod(certs.privateKey, 0)
            #expect(start(cert: certs.certificate, key: certs.privateKey).contains("not readable"))
        }
    }

    /// A plain listener beside HTTPS (for loopback health checks).
    @Test func plainListenerBeside() throws {
        let certs = try TestCertificates()
        let s = try Self.server(certs) { $0.plainListeners = [.init(host: "127.0.0.1", port: 0)] }
        defer { s.shutdown(grace: 1) }
        let plainPort = try #require(s.plainPorts.first)
        #expect(plainPort != s.port)
        let c = try RawClient(port: plainPort)
        c.send("GET /h HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(c.read(until: "secure=false").contains("ok /h"))
        let t = try TLSClient(port: s.port, caFile: certs.caFile)
        t.send("GET /h HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(t.read(until: "secure=true").contains("ok /h"))
    }
}
