import Dispatch
import Foundation
import Synchronization

/// Runs the iterations of a short parallel loop on the calling thread and on workers that stay awake
/// between loops, for work split a few times per training step (the shards, then the halves of Adam's
/// largest tensors).
///
/// `DispatchQueue.concurrentPerform` wakes a pool thread for each call and lets it sleep again afterwards;
/// on virtual CPUs that wake-up takes tens of microseconds, against one or two for a worker spinning on an
/// atomic (`score-bench spin` measures both), while a training step of the 2-D recipes takes about 100 µs. Workers here spin for `spinLimit` after their last loop (giving way to other runnable
/// threads as they poll, so that the HTTP server keeps its latency while a job trains), then park on a
/// semaphore, so an idle pool costs nothing. One loop runs at a time: a caller that finds the pool busy runs
/// its loop with `concurrentPerform` instead.
public final class WorkerPool: @unchecked Sendable {
    /// The process's pool: one worker beside the caller (the machines have two cores).
    public static let shared = WorkerPool(workers: max(1, min(ProcessInfo.processInfo.activeProcessorCount - 1, 7)))

    public let workers: Int
    /// How long a worker spins for the next loop before parking.
    public let spinLimit: Duration

    private let generation = Atomic<Int>(0)
    private let next = Atomic<Int>(0)
    private let checkedIn = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers: [SleepFlag]
    private let semaphores: [DispatchSemaphore]
    private let job = Mutex<(body: (@Sendable (Int) -> Void)?, iterations: Int)>((nil, 0))

    public init(workers: Int, spinLimit: Duration = .microseconds(50)) {
        precondition(workers >= 1)
        self.workers = workers
        self.spinLimit = spinLimit
        sleepers = (0..<workers).map { _ in SleepFlag() }
        semaphores = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        for w in 0..<workers {
            let t = Thread { [unowned self] in self.workerLoop(w) }
            t.name = "score-worker-\(w)"
            t.start()
        }
    }

    /// Calls `body(i)` for every i in 0..<iterations, spread over the caller and the workers; returns when
    /// all have returned. Iterations are handed out in increasing order to whichever thread is free.
    public func run(iterations k: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard k > 1 else {
            if k == 1 { body(0) }
            return
        }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            DispatchQueue.concurrentPerform(iterations: k, execute: body)
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        job.withLock { $0 = (body, k) }
        next.store(0, ordering: .relaxed)
        checkedIn.store(0, ordering: .relaxed)
        generation.add(1, ordering: .sequentiallyConsistent)
        for w in 0..<workers where sleepers[w].flag.exchange(false, ordering: .sequentiallyConsistent) {
            semaphores[w].signal()
        }
        drain(body, k)
        // Every worker checks in for every loop, so none is still inside this one when the next begins.
        // Waiting, give way as the workers do: a worker that was preempted needs a core to finish on.
        var polls = 0
        while checkedIn.load(ordering: .acquiring) < workers {
            polls += 1
            if polls & 3 == 0 { sched_yield() }
        }
        job.withLock { $0 = (nil, 0) }
    }

    /// `body` stays `@Sendable` here: passing the stored escaping closure as a plain non-escaping one leaked
    /// the closure's context on every loop with Swift 6.3 (seen with valgrind; `WorkerPoolTests` checks it).
    private func drain(_ body: @Sendable (Int) -> Void, _ k: Int) {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= k { return }
            body(i)
        }
    }

    private func workerLoop(_ w: Int) {
        var seen = 0
        let clock = ContinuousClock()
        while true {
            var g = generation.load(ordering: .acquiring)
            var deadline = clock.now.advanced(by: spinLimit)
            var polls = 0
            while g == seen {
                g = generation.load(ordering: .acquiring)
                if g != seen { break }
                polls += 1
                // Give way to any other runnable thread (the HTTP server's, while a training job runs):
                // sched_yield returns at once when there is none.
                if polls & 3 == 0 { sched_yield() }
                if polls & 255 != 0 || clock.now < deadline { continue }
                // Park: announce it, then look once more so a loop published meanwhile is not missed.
                sleepers[w].flag.store(true, ordering: .sequentiallyConsistent)
                g = generation.load(ordering: .sequentiallyConsistent)
                if g != seen {
                    // A caller that already took the flag will signal: consume that signal.
                    if !sleepers[w].flag.exchange(false, ordering: .sequentiallyConsistent) { semaphores[w].wait() }
                    break
                }
                semaphores[w].wait()
                g = generation.load(ordering: .acquiring)
                deadline = clock.now.advanced(by: spinLimit)
            }
            seen = g
            let (body, k) = job.withLock { $0 }
            if let body { drain(body, k) }
            checkedIn.add(1, ordering: .releasing)
        }
    }
}

private final class SleepFlag: Sendable {
    let flag = Atomic<Bool>(false)
}
