import COpenSSL
import Foundation

/// HTTPS through OpenSSL's libssl: a server context made from a PEM certificate chain and private key (TLS 1.2 and
/// 1.3 only, the library's default ciphers, ALPN `http/1.1`), and per connection a session that encrypts and
/// decrypts through memory BIOs, so that the event loop's own non-blocking socket code moves the bytes.
public struct TLSConfiguration: Sendable {
    /// PEM file with the certificate, then any intermediate certificates.
    public var certificatePath: String
    /// PEM file with the private key matching the certificate.
    public var privateKeyPath: String
    /// Seconds a new connection has to complete its handshake.
    public var handshakeTimeout: Double = 10

    public init(certificatePath: String, privateKeyPath: String, handshakeTimeout: Double = 10) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.handshakeTimeout = handshakeTimeout
    }
}

public struct TLSError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String) { description = what }

    /// The message with OpenSSL's queued errors (which it clears).
    static func openssl(_ what: String) -> TLSError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            reasons.append(cString(buf))
        }
        return TLSError(reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))")
    }
}

/// One SSL_CTX: made once at start and again on each reload; connections keep the one they began with.
final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer

    /// Loads and checks the certificate and key; the errors name the file and what is wrong with it.
    init(_ config: TLSConfiguration) throws {
        for (what, path) in [("certificate", config.certificatePath), ("private key", config.privateKeyPath)] {
            guard FileManager.default.fileExists(atPath: path) else { throw TLSError("TLS \(what) \(path): no such file") }
            guard FileManager.default.isReadableFile(atPath: path) else { throw TLSError("TLS \(what) \(path): not readable") }
        }
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.openssl("SSL_CTX_new") }
        self.ctx = ctx
        guard scored_ssl_ctx_tls12_minimum(ctx) == 1 else { throw TLSError.openssl("cannot require TLS 1.2") }
        scored_ssl_ctx_no_renegotiation(ctx)
        scored_ssl_ctx_use_alpn(ctx)
        guard SSL_CTX_use_certificate_chain_file(ctx, config.certificatePath) == 1 else {
            throw TLSError.openssl("TLS certificate \(config.certificatePath) is not a PEM certificate chain")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, config.privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            // OpenSSL checks the key against the certificate as it loads it.
            let mismatch = ERR_GET_REASON_shim(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
            throw TLSError.openssl(mismatch ? "TLS private key \(config.privateKeyPath) does not match the certificate \(config.certificatePath)"
                                            : "TLS private key \(config.privateKeyPath) is not a PEM private key")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.openssl("TLS private key \(config.privateKeyPath) does not match the certificate \(config.certificatePath)")
        }
    }

    deinit { SSL_CTX_free(ctx) }
}

/// The TLS state of one connection. Ciphertext from the socket goes in with `receive`; plaintext comes out of
/// `read`; `write` encrypts plaintext; `takeOutput` gives the ciphertext (handshake messages, records, alerts)
/// to send. Used on the connection's loop only.
final class TLSSession {
    private let ssl: OpaquePointer
    private let rbio: OpaquePointer
    private let wbio: OpaquePointer
    /// The context it was made from (kept alive while the session lives, across reloads).
    private let context: TLSContext
    private(set) var handshakeDone = false
    /// The peer sent close_notify.
    private(set) var peerClosed = false

    enum Failure: Error { case protocolError(String) }

    init(context: TLSContext) throws {
        guard let ssl = SSL_new(context.ctx) else { throw TLSError.openssl("SSL_new") }
        guard let r = BIO_new(BIO_s_mem()), let w = BIO_new(BIO_s_mem()) else { SSL_free(ssl); throw TLSError.openssl("BIO_new") }
        scored_bio_mem_eof_retry(r)
        scored_bio_mem_eof_retry(w)
        SSL_set_bio(ssl, r, w)  // the session owns them now
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.rbio = r
        self.wbio = w
        self.context = context
    }

    deinit { SSL_free(ssl) }

    /// Hands ciphertext from the socket to the library.
    func receive(_ bytes: UnsafeRawBufferPointer) {
        var off = 0
        while off < bytes.count {
            let n = BIO_write(rbio, bytes.baseAddress! + off, Int32(min(bytes.count - off, Int(Int32.max))))
            if n <= 0 { break }
            off += Int(n)
        }
    }

    /// Advances the handshake and appends the plaintext now available to `plain`. Throws on a protocol error (a
    /// refused version, a bad record); its alert is then in the output.
    func read(into plain: inout [UInt8], scratch: UnsafeMutablePointer<UInt8>, capacity: Int) throws {
        ERR_clear_error()
        if !handshakeDone {
            let r = SSL_do_handshake(ssl)
            if r == 1 {
                handshakeDone = true
            } else {
                let e = SSL_get_error(ssl, r)
                if e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE { return }
                throw Failure.protocolError(TLSError.openssl("TLS handshake failed").description)
            }
        }
        while true {
            let n = SSL_read(ssl, scratch, Int32(capacity))
            if n > 0 {
                plain.append(contentsOf: UnsafeBufferPointer(start: scratch, count: Int(n)))
                continue
            }
            let e = SSL_get_error(ssl, n)
            switch e {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return
            case SSL_ERROR_ZERO_RETURN:
                peerClosed = true
                return
            default:
                throw Failure.protocolError(TLSError.openssl("TLS record error").description)
            }
        }
    }

    /// Encrypts plaintext (memory BIOs take it whole).
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            ERR_clear_error()
            let n = SSL_write(ssl, bytes.baseAddress! + off, Int32(min(bytes.count - off, 1 << 20)))
            if n > 0 { off += Int(n); continue }
            throw Failure.protocolError(TLSError.openssl("TLS write failed").description)
        }
    }

    /// Queues close_notify.
    func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    /// Moves the ciphertext waiting to be sent to `out`.
    func takeOutput(into out: inout [UInt8], scratch: UnsafeMutablePointer<UInt8>, capacity: Int) {
        while scored_bio_pending(wbio) > 0 {
            let n = BIO_read(wbio, scratch, Int32(capacity))
            if n <= 0 { break }
            out.append(contentsOf: UnsafeBufferPointer(start: scratch, count: Int(n)))
        }
    }

    /// The negotiated protocol version ("TLSv1.3").
    var version: String { cString(SSL_get_version(ssl)) }
}
