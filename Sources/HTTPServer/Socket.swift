#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Thin wrappers over POSIX sockets: a non-blocking listening socket per address, and the few calls a connection
/// makes on its own descriptor.
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
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue),
                        info.pointee.ai_protocol)
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

    enum Accepted {
        case connection(fd: Int32, peer: String)
        /// Nothing more waiting.
        case none
        /// Out of file descriptors: stop accepting for a moment.
        case exhausted
        case closed
    }

    /// Takes one waiting connection without blocking, made non-blocking and close-on-exec.
    func accept() -> Accepted {
        while true {
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &len) }
            }
            if c >= 0 {
                _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                return .connection(fd: c, peer: ListeningSocket.describe(storage))
            }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EAGAIN, EWOULDBLOCK: return .none
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted
            default: return .closed
            }
        }
    }
}

/// The socket calls a connection makes on its descriptor.
enum SocketIO {
    /// Small responses go out at once (else Nagle and delayed ACKs add ~40 ms per request).
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// True while the peer has not closed or reset the connection (checked without consuming data).
    static func isOpen(_ fd: Int32) -> Bool {
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

    /// Raises the soft limit on open descriptors to the hard limit; returns the limit in force.
    static func raiseDescriptorLimit() -> Int {
        var l = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &l) == 0 else { return 1024 }
        if l.rlim_cur < l.rlim_max {
            var raised = l
            raised.rlim_cur = l.rlim_max == rlim_t.max ? max(l.rlim_cur, 1 << 20) : l.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { l = raised }
        }
        return l.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(l.rlim_cur)
    }
}

/// A Swift string from a NUL-terminated C buffer.
func cString(_ p: UnsafePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
}

func cString(_ buf: [CChar]) -> String { buf.withUnsafeBufferPointer { cString($0.baseAddress) } }
