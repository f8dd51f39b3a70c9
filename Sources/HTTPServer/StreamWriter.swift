import Dispatch
import Foundation

/// A write to a connection that has closed.
struct ConnectionClosed: Error {}

/// The writer a streamed body is given: each write is one chunk (or raw bytes for HTTP/1.0, whose end is the
/// connection's end), handed to the connection's loop; the writer waits while the reader is behind.
final class StreamWriter: ResponseStream, @unchecked Sendable {
    let connection: Connection
    let chunked: Bool

    init(connection: Connection, chunked: Bool) {
        self.connection = connection
        self.chunked = chunked
    }

    func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        let ok = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            connection.loop.execute { [connection, chunked] in
                connection.streamWrite(bytes, chunked: chunked) { c.resume(returning: $0) }
            }
        }
        if !ok { throw ConnectionClosed() }
    }

    func write(_ bytes: [UInt8]) throws {
        if bytes.isEmpty { return }
        let done = DispatchSemaphore(value: 0)
        let result = LockedBox(false)
        connection.loop.execute { [connection, chunked] in
            connection.streamWrite(bytes, chunked: chunked) { result.value = $0; done.signal() }
        }
        done.wait()
        if !result.value { throw ConnectionClosed() }
    }

    var isConnected: Bool { connection.isClientConnected }
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ v: T) { stored = v }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
