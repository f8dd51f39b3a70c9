import CEpoll
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An event loop: one thread of its own waiting in `epoll_wait` on its connections' non-blocking sockets, and
/// running on that same thread their reads, parsing, writes and deadlines (so their state needs no locks), the
/// work other threads hand it (`execute`), and every tenth of a second a check of their deadlines. It is also a
/// task executor: quick handlers run on it (`HTTPRequest.handlerExecutor` moves the others to the pool), so that a
/// request read, answered and written costs no thread switch at all.
///
/// Why not Dispatch sources: on Linux, libdispatch watches descriptors from a manager thread of its own, which
/// hands each event to a worker thread and, after the handler, is woken again through an eventfd to re-arm the
/// source; that is two thread wake-ups per readable socket. Measured on two cores under wrk at 32 connections,
/// the wake-ups (context switches and the eventfd) took about a quarter of the server's time, and the server
/// answered about a seventh fewer requests than a SwiftNIO server (which waits in epoll on its own threads, as
/// this loop now does).
final class EventLoop: TaskExecutor, @unchecked Sendable {
    static let scratchSize = 65536
    /// Shared by the loop's connections for reads and TLS records (only ever used on the loop's thread).
    let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: EventLoop.scratchSize)
    /// Open connections by their token (on the loop's thread only).
    var connections: [UInt64: Connection] = [:]
    private var nextToken: UInt64 = 1

    private let epoll: Int32
    private let wakeFD: Int32
    private let name: String
    private var thread: Thread?

    /// Work handed over by other threads, under `lock`.
    private let lock = NSLock()
    private var pending: [() -> Void] = []
    /// The loop is in (or about to enter) `epoll_wait` with nothing pending, and nobody has woken it yet.
    private var sleeping = false
    private var woken = false
    /// Set once `stop` has been asked: the thread ends once no work is pending, and sets `exited`; work handed
    /// over after that runs on `afterStop` (serially), so that no two threads ever run a loop's work at once.
    private var stopped = false
    private var exited = false
    private let afterStop: DispatchQueue
    private let ended = DispatchSemaphore(value: 0)

    /// The deadline sweep's period, seconds.
    static let sweepPeriod = 0.1

    init(index: Int) throws {
        name = "http.loop.\(index)"
        afterStop = DispatchQueue(label: name + ".stopped")
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw SocketError("epoll_create1") }
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            let e = SocketError("eventfd")
            _ = Glibc.close(epoll)
            throw e
        }
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.u64 = 0  // token 0: the wake-up descriptor
        _ = epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &ev)
    }

    deinit {
        _ = Glibc.close(wakeFD)
        _ = Glibc.close(epoll)
        scratch.deallocate()
    }

    /// Starts the loop's thread.
    func start() {
        let t = Thread { [self] in run() }
        t.name = name
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    /// Runs `work` on the loop's thread, after what it is doing now.
    func execute(_ work: @escaping () -> Void) {
        lock.lock()
        if exited {
            lock.unlock()
            let box = UncheckedWork(work)
            afterStop.async { box.work() }
            return
        }
        pending.append(work)
        let wake = sleeping && !woken
        if wake { woken = true }
        lock.unlock()
        if wake { signalWake() }
    }

    /// Runs `work` on the loop's thread and waits for it (never from the loop's own thread).
    func executeAndWait(_ work: @escaping () -> Void) {
        let done = DispatchSemaphore(value: 0)
        execute {
            work()
            done.signal()
        }
        done.wait()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        execute { [self] in unowned.runSynchronously(on: asUnownedTaskExecutor()) }
    }

    /// Ends the loop's thread once it has run the work handed to it so far (its connections should be closed);
    /// waits for that.
    func stop() {
        lock.lock()
        guard !stopped, thread != nil else { lock.unlock(); return }
        stopped = true
        let wake = sleeping && !woken
        if wake { woken = true }
        lock.unlock()
        if wake { signalWake() }
        ended.wait()
    }

    private func signalWake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakeFD, $0.baseAddress, 8) }
    }

    // MARK: watching descriptors

    /// A token for a new connection (its key in `connections` and in epoll's events).
    func register(_ c: Connection) -> UInt64 {
        let token = nextToken
        nextToken += 1
        connections[token] = c
        return token
    }

    /// Changes what the loop waits for on a connection's socket: `old` and `new` are epoll event masks
    /// (0: not watched, and then the socket is out of the epoll set, so that a hang-up it does not read cannot
    /// wake the loop again and again).
    func watch(_ fd: Int32, token: UInt64, from old: UInt32, to new: UInt32) {
        guard old != new else { return }
        var ev = epoll_event()
        ev.events = new
        ev.data.u64 = token
        let op = old == 0 ? EPOLL_CTL_ADD : new == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD
        _ = epoll_ctl(epoll, op, fd, &ev)
    }

    func unregister(_ token: UInt64) {
        connections[token] = nil
    }

    // MARK: the loop

    private func run() {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        var nextSweep = Clock.now() + EventLoop.sweepPeriod
        while true {
            // Work handed over: run it all, then look at the sockets without waiting if more came meanwhile.
            lock.lock()
            var work = pending
            pending.removeAll(keepingCapacity: true)
            if work.isEmpty && stopped {
                exited = true
                lock.unlock()
                break
            }
            if work.isEmpty { sleeping = true }
            lock.unlock()
            for w in work { w() }
            work.removeAll()

            var now = Clock.now()
            var timeout: Int32 = 0
            if sleeping {
                timeout = Int32(max(0, min(1000, ((nextSweep - now) * 1000).rounded(.up))))
            }
            let n = epoll_wait(epoll, events, Int32(capacity), timeout)
            lock.lock()
            sleeping = false
            woken = false
            lock.unlock()
            if n > 0 {
                for i in 0..<Int(n) {
                    let ev = events[i]
                    let token = ev.data.u64
                    if token == 0 {
                        // Woken by `execute`: the work runs at the top of the loop.
                        var value: UInt64 = 0
                        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(wakeFD, $0.baseAddress, 8) }
                        continue
                    }
                    // A connection closed by an earlier event of this batch is gone from the table.
                    guard let c = connections[token] else { continue }
                    c.handle(events: ev.events)
                }
            }
            now = Clock.now()
            if now >= nextSweep {
                for c in Array(connections.values) { c.checkDeadlines(now) }
                nextSweep = now + EventLoop.sweepPeriod
            }
        }
        ended.signal()
    }
}

/// Work handed from one thread to another whose captured state only that other thread touches.
private struct UncheckedWork: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
