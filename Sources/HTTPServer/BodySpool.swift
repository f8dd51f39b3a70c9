#if canImport(Glibc)
import Glibc
#endif

/// A large request body on its way in: the unlinked temporary file it is written to as it arrives (so that a slow
/// client holds disk rather than memory), and, once it is handed to the responder before it is all there, that
/// `RequestBody`, which then owns the file and is told of each write. One per connection, used on its loop.
struct BodySpool {
    /// The file (-1: none yet), and how many bytes it holds.
    private(set) var fd: Int32 = -1
    private(set) var written = 0
    /// The body handed over while it arrives.
    private(set) var arriving: RequestBody?

    var isOpen: Bool { fd >= 0 }

    /// Makes the file if there is none yet; the failure to answer with when it cannot (503 when too many uploads
    /// are being spooled at once, 500 if no file can be made).
    mutating func open(_ server: HTTPServer) -> HTTPParser.Failure? {
        guard fd < 0 else { return nil }
        let made = server.openSpoolFile()
        if made == -2 { return HTTPParser.Failure(503, "too many large uploads in progress; try again shortly") }
        if made < 0 { return HTTPParser.Failure(500, "the request body could not be stored") }
        fd = made
        return nil
    }

    /// Appends bytes (making the file on first use) and tells a handed-over body; the failure to answer with if
    /// that cannot be done.
    mutating func write(_ bytes: ArraySlice<UInt8>, _ server: HTTPServer) -> HTTPParser.Failure? {
        if let f = open(server) { return f }
        let descriptor = fd
        var off = 0
        let ok = bytes.withUnsafeBytes { b -> Bool in
            while off < b.count {
                let n = Glibc.write(descriptor, b.baseAddress! + off, b.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
        guard ok else { return HTTPParser.Failure(500, "the request body could not be stored") }
        written += bytes.count
        arriving?.advance(to: written)
        return nil
    }

    /// Hands the body over before it has all arrived (the file must be open): `count` bytes, or nil for a chunked
    /// body whose length is known at its end. `firstWait` runs when a reader first waits for bytes.
    mutating func handOver(count: Int?, _ server: HTTPServer, firstWait: (@Sendable () -> Void)? = nil) -> RequestBody {
        precondition(fd >= 0 && arriving == nil)
        let body = RequestBody(arriving: fd, count: count, release: { [server] in server.spoolClosed() }, firstWait: firstWait)
        body.advance(to: written)
        arriving = body
        return body
    }

    /// The handed-over body is all there (a chunked one's length is what arrived); the spool is free again.
    mutating func arrived() {
        arriving?.finish()
        reset()
    }

    /// The whole body, which was not handed over, as a spooled `RequestBody`; the spool is free again.
    mutating func take(_ server: HTTPServer) -> RequestBody {
        let body = RequestBody(spooled: fd, count: written, release: { [server] in server.spoolClosed() })
        reset()
        return body
    }

    /// Drops the body: one handed over is told it will not come whole (its handler stops reading); a file of the
    /// spool's own is closed.
    mutating func drop(_ why: String, _ server: HTTPServer) {
        if let a = arriving {
            a.fail(why)
        } else if fd >= 0 {
            _ = Glibc.close(fd)
            server.spoolClosed()
        }
        reset()
    }

    /// Forgets the file (now owned by a `RequestBody`, or closed).
    private mutating func reset() {
        fd = -1
        written = 0
        arriving = nil
    }
}
