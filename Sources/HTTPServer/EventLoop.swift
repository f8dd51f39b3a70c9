import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An event loop: a serial Dispatch queue on which its connections' reads, parsing, writes and deadlines all run
/// (so their state needs no locks), a read buffer they share, and a timer that enforces their deadlines. It is also
/// a task executor: quick handlers run on it (`HTTPRequest.handlerExecutor` moves the others to the pool), so
/// that a request read, answered and written costs no thread switch.
final class EventLoop: TaskExecutor, @unchecked Sendable {
    let queue: DispatchQueue
    static let scratchSize = 65536
    let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: EventLoop.scratchSize)
    var connections: [ObjectIdentifier: Connection] = [:]
    private var sweep: DispatchSourceTimer?

    init(index: Int) {
        queue = DispatchQueue(label: "http.loop.\(index)", qos: .userInitiated)
    }

    deinit {
        sweep?.cancel()
        scratch.deallocate()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.async { [self] in unowned.runSynchronously(on: asUnownedTaskExecutor()) }
    }

    /// Checks every connection's deadlines ten times a second.
    func start() {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + 0.1, repeating: 0.1, leeway: .milliseconds(20))
        t.setEventHandler { [weak self] in
            guard let self else { return }
            let now = Clock.now()
            for c in Array(connections.values) { c.checkDeadlines(now) }
        }
        t.resume()
        sweep = t
    }

    func stop() {
        queue.sync {
            sweep?.cancel()
            sweep = nil
        }
    }
}
