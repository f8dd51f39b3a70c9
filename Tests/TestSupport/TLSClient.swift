import COpenSSL
import Foundation
import Glibc

/// A byte-level TLS client for tests (OpenSSL over a blocking socket): it verifies the server's certificate
/// against `caFile` when given, offers the ALPN protocols and TLS versions it is told to, and sends and reads
/// exactly what it is given.
public final class TLSClient {
    public let raw: RawClient
    private let ctx: OpaquePointer
    private let session: OpaquePointer

    public struct HandshakeFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// `versions`: the lowest and highest protocol version offered (e.g. `TLS1_1_VERSION`); `alpn`: the protocols
    /// offered, in order (none: no ALPN extension).
    public init(host: String = "127.0.0.1", port: Int, caFile: String?, serverName: String = "localhost",
                versions: (Int32, Int32)? = nil, alpn: [String] = ["http/1.1"]) throws {
        raw = try RawClient(host: host, port: port)
        ctx = SSL_CTX_new(TLS_client_method())!
        if let v = versions {
            // Lets the client offer old versions at all (OpenSSL's default security level forbids TLS 1.1).
            SSL_CTX_set_security_level(ctx, 0)
            _ = SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0")
            _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(v.0), nil)
            _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(v.1), nil)
        }
        session = SSL_new(ctx)!
        if let caFile {
            SSL_CTX_load_verify_locations(ctx, caFile, nil)
            SSL_set_verify(session, SSL_VERIFY_PEER, nil)
            _ = SSL_set1_host(session, serverName)
        }
        _ = SSL_ctrl(session, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: serverName))
        if !alpn.isEmpty {
            var wire: [UInt8] = []
            for p in alpn { wire.append(UInt8(p.utf8.count)); wire.append(contentsOf: p.utf8) }
            _ = SSL_set_alpn_protos(session, wire, UInt32(wire.count))
        }
        SSL_set_fd(session, raw.fd)
        ERR_clear_error()
        if SSL_connect(session) != 1 {
            var reasons: [String] = []
            while true {
                let code = ERR_get_error()
                if code == 0 { break }
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                reasons.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            throw HandshakeFailed(description: reasons.joined(separator: "; "))
        }
    }

    deinit {
        SSL_free(session)
        SSL_CTX_free(ctx)
    }

    /// The negotiated protocol version ("TLSv1.3") and ALPN protocol ("" for none).
    public var version: String { String(cString: SSL_get_version(session)) }
    public var alpnSelected: String {
        var p: UnsafePointer<UInt8>? = nil
        var n: UInt32 = 0
        SSL_get0_alpn_selected(session, &p, &n)
        guard let p, n > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(n)), as: UTF8.self)
    }

    /// SHA-256 fingerprint of the server's certificate (hex).
    public var peerFingerprint: String {
        guard let cert = SSL_get1_peer_certificate(session) else { return "" }
        defer { X509_free(cert) }
        var md = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        X509_digest(cert, EVP_sha256(), &md, &n)
        return md.prefix(Int(n)).map { String(format: "%02x", $0) }.joined()
    }

    public func send(_ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { SSL_write(session, $0.baseAddress, Int32($0.count)) }
    }

    /// Reads until `done(what came so far)`, the peer closes, or the timeout; true if the peer closed.
    private func receive(into out: inout [UInt8], timeout: Double, until done: ([UInt8]) -> Bool) -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while !done(out) && Date() < deadline {
            if SSL_pending(session) == 0 {
                var p = pollfd(fd: raw.fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 100) <= 0 { continue }
            }
            let n = SSL_read(session, &buf, Int32(buf.count))
            if n <= 0 { return true }
            out.append(contentsOf: buf[0..<Int(n)])
        }
        return false
    }

    /// Reads until `marker` has appeared `count` times, the peer closes, or the timeout.
    public func read(until marker: String, count: Int = 1, timeout: Double = 3) -> String {
        var out: [UInt8] = []
        _ = receive(into: &out, timeout: timeout) { String(decoding: $0, as: UTF8.self).components(separatedBy: marker).count - 1 >= count }
        return String(decoding: out, as: UTF8.self)
    }

    /// Every byte until the server ends the connection (or the timeout).
    public func readAll(timeout: Double = 10) -> [UInt8] {
        var out: [UInt8] = []
        _ = receive(into: &out, timeout: timeout) { _ in false }
        return out
    }

    /// True when the server ends the connection (close_notify or end of stream) within `timeout`.
    public func isClosedByPeer(timeout: Double = 2) -> Bool {
        var out: [UInt8] = []
        return receive(into: &out, timeout: timeout) { _ in false }
    }
}

/// A certificate authority and a server certificate made by the `openssl` command in a temporary folder.
public struct TestCertificates {
    public let directory: URL
    public var caFile: String { directory.appendingPathComponent("ca.pem").path }
    public var certificate: String { directory.appendingPathComponent("server.pem").path }
    public var privateKey: String { directory.appendingPathComponent("server.key").path }

    /// A CA, and a certificate it signs for localhost and 127.0.0.1.
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("scored-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=scored-test-ca")
        try issue(name: "server")
    }

    /// (Re)issues `NAME.pem`/`NAME.key`: a new key and certificate signed by the CA.
    public func issue(name: String) throws {
        try run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(name).key -out \(name).csr -subj /CN=localhost")
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(to: directory.appendingPathComponent("ext.cnf"), atomically: true, encoding: .utf8)
        try run("openssl x509 -req -in \(name).csr -CA ca.pem -CAkey ca.key -CAcreateserial -out \(name).pem -days 2 -extfile ext.cnf")
    }

    public func run(_ command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = directory
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "failed: \(command)"]) }
    }

    /// The SHA-256 fingerprint of a PEM certificate (hex, as `TLSClient.peerFingerprint`).
    public func fingerprint(_ pem: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "openssl x509 -in \(pem) -noout -fingerprint -sha256"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "=").last.map { $0.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased() } ?? ""
    }
}
