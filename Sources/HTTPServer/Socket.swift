#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Thin wrappers over POSIX sockets: a listening socket per address, and a connected socket with reads
/// bounded by a deadline and writes that cannot raise SIGPIPE.
public struct SocketError: Error, CustomStringConvertible {
    public let description: String
    init(_ what: String) { description = "\(what): \(cString(strerror(errno)))" }
}

enum Clock {
    /// Monotonic seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

final class ListeningSocket: @unchecked Sendable {
    let fd: Int32
    /// The port actually bound (useful with port 0).
    let port: Int
    let host: String

    /// Binds `host:port` (an IPv4 or IPv6 literal, or a name resolved by getaddrinfo) and listens.
    init(host: String, port: Int, backlog: Int32 = 1024) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let info = res else { throw SocketError("cannot resolve \(host) (\(cString(gai_strerror(rc))))") }
        defer { freeaddrinfo(res) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw SocketError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if info.pointee.ai_family == AF_INET6 {
            // "::" accepts IPv4 as well (mapped addresses); a specific IPv6 address is IPv6 only.
            var v6only: Int32 = host == "::" ? 0 : 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let e = SocketError("cannot bind \(host):\(port)")
            _ = Glibc.close(fd)
            throw e
        }
        guard listen(fd, backlog) == 0 else { let e = SocketError("listen"); _ = Glibc.close(fd); throw e }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        self.port = ListeningSocket.port(of: storage)
        self.fd = fd
        self.host = host
    }

    static func port(of s: sockaddr_storage) -> Int {
        var s = s
        let family = Int32(s.ss_family)
        return withUnsafePointer(to: &s) { p -> Int in
            if family == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
        }
    }

    static func describe(_ s: sockaddr_storage) -> String {
        var s = s
        let family = Int32(s.ss_family)
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &s) { p -> String in
            if family == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    var addr = a.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
                    return cString(buf) + ":\(UInt16(bigEndian: a.pointee.sin_port))"
                }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                var addr = a.pointee.sin6_addr
                inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
                return "[" + cString(buf) + "]:\(UInt16(bigEndian: a.pointee.sin6_port))"
            }
        }
    }

    /// Blocks until a connection arrives; nil once the socket is closed.
    func accept() -> ConnectedSocket? {
        while true {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
            }
            if c >= 0 { return ConnectedSocket(fd: c, peer: ListeningSocket.describe(storage)) }
            if errno == EINTR || errno == ECONNABORTED { continue }
            if errno == EMFILE || errno == ENFILE {
                usleep(10_000)  // out of descriptors: back off instead of spinning
                continue
            }
            return nil
        }
    }

    /// Stops accepting: wakes a blocked accept and releases the descriptor.
    func close() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
        _ = Glibc.close(fd)
    }
}

final class ConnectedSocket: @unchecked Sendable {
    let fd: Int32
    let peer: String
    static let scratchSize = 65536
    private let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: ConnectedSocket.scratchSize)

    deinit { scratch.deallocate() }

    init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
        var one: Int32 = 1
        // Small responses go out at once (else Nagle and delayed ACKs add ~40 ms per request).
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    enum ReadResult { case data(Int), eof, timeout, failed }

    /// Appends what is available to `buffer`, waiting until `deadline` (monotonic seconds) at most.
    func read(into buffer: inout [UInt8], deadline: Double) -> ReadResult {
        while true {
            let got = recv(fd, scratch, ConnectedSocket.scratchSize, Int32(MSG_DONTWAIT))
            if got > 0 {
                buffer.append(contentsOf: UnsafeBufferPointer(start: scratch, count: got))
                return .data(got)
            }
            if got == 0 { return .eof }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .failed }
            let remaining = deadline - Clock.now()
            if remaining <= 0 { return .timeout }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(remaining * 1000, Double(Int32.max)).rounded(.up)))
            if r == 0 { return .timeout }
            if r < 0 && errno != EINTR { return .failed }
        }
    }

    /// Sends all of `bytes` (blocking, bounded by the socket's send timeout).
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n > 0 { off += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw SocketError("send")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        if bytes.isEmpty { return }
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Bounds how long a blocked send may wait for a slow reader.
    func setSendTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// True while the peer has not closed or reset the connection (checked without consuming data).
    var isOpen: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN) | Int16(0x2000) /* POLLRDHUP */, revents: 0)
        let r = poll(&p, 1, 0)
        if r <= 0 { return true }
        if p.revents & (Int16(POLLHUP) | Int16(POLLERR) | Int16(0x2000) /* POLLRDHUP */) != 0 { return false }
        if p.revents & Int16(POLLIN) != 0 {
            var b: UInt8 = 0
            return recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) != 0
        }
        return true
    }

    /// Wakes a blocked reader (for shutdown of idle connections).
    func shutdownRead() { _ = Glibc.shutdown(fd, Int32(SHUT_RD)) }

    /// Sends the end of the stream (FIN) after what was written, leaving the read side open.
    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func close() { _ = Glibc.close(fd) }
}

/// A Swift string from a NUL-terminated C buffer.
func cString(_ p: UnsafePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
}

func cString(_ buf: [CChar]) -> String { buf.withUnsafeBufferPointer { cString($0.baseAddress) } }
