import Foundation
import Glibc

/// A byte-level TCP client for tests: sends exactly what it is given and reads what comes back.
public final class RawClient {
    public let fd: Int32

    public init(host: String = "127.0.0.1", port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let info = res else { throw CocoaError(.fileNoSuchFile) }
        defer { freeaddrinfo(res) }
        fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { Glibc.close(fd); throw CocoaError(.fileReadNoPermission) }
    }

    deinit { Glibc.close(fd) }

    public func send(_ s: String) { send(Array(s.utf8)) }
    public func send(_ b: [UInt8]) {
        _ = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the peer closes or `timeout` passes without data.
    public func readAll(timeout: Double = 2) -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(timeout * 1000)) <= 0 { break }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads until `marker` has appeared `count` times (or the timeout).
    public func read(until marker: String, count: Int = 1, timeout: Double = 2) -> String {
        var out = ""
        var buf = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while out.components(separatedBy: marker).count - 1 < count && Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) <= 0 { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += String(decoding: buf[0..<n], as: UTF8.self)
        }
        return out
    }

    /// Closes the connection now.
    public func close() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// True when the server has closed the connection (a read returns end of stream within `timeout`).
    public func isClosedByPeer(timeout: Double = 2) -> Bool {
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) <= 0 { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return true }
        }
        return false
    }
}
