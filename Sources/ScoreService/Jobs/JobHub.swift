import Foundation
import ScoreEngine
import Synchronization

/// Change notification for jobs: every update bumps the job's version and wakes whoever waits for it
/// (the event streams).
final class JobHub: @unchecked Sendable {
    private let lock = NSLock()
    private var versions: [String: Int] = [:]
    private let wakeups: Wakeups<String>

    init() { wakeups = Wakeups(lock: lock) }

    func changed(_ id: String) {
        lock.lock()
        versions[id, default: 0] += 1
        lock.unlock()
        wakeups.wake(id)
    }

    /// Every job known here changed (events from other nodes may have been missed).
    func changedAll() {
        lock.lock()
        let ids = Array(versions.keys)
        for id in ids { versions[id, default: 0] += 1 }
        lock.unlock()
        for id in ids { wakeups.wake(id) }
    }

    func version(_ id: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return versions[id] ?? 0
    }

    /// Waits (suspended, holding no thread) until the job's version differs from `seen` or `timeout` passes;
    /// returns the current version.
    func next(_ id: String, after seen: Int, timeout: Double) async -> Int {
        await wakeups.wait(id, timeout: timeout) { [unowned self] in (versions[id] ?? 0) != seen }
        return version(id)
    }

    func forget(_ id: String) {
        lock.lock()
        versions[id] = nil
        lock.unlock()
    }
}

/// What the runner knows of a job while it runs: its live progress and whether it was asked to stop.
final class RunningJob: Sendable {
    let id: String
    let cancelled = Atomic<Bool>(false)
    /// Stopping for a service shutdown (the job goes back in the queue) rather than for a user's cancel.
    let interrupted = Atomic<Bool>(false)
    let progress = Mutex<JobProgress?>(nil)
    /// When its progress was last announced (uptime nanoseconds).
    let announced = Mutex<UInt64>(0)
    /// Cancels a sampler's loop.
    let control: Mutex<SamplingControl?> = Mutex(nil)
    /// The latest preview of a sampling job and its number (the event stream sends each once).
    let preview: Mutex<(number: Int, body: JSONValue)?> = Mutex(nil)
    /// A training job's series so far.
    let history = Mutex<TrainingHistory?>(nil)
    /// Its claim no longer holds (the lease lapsed or was taken over): it stops and records nothing.
    let leaseLost = Atomic<Bool>(false)

    /// The claim it runs under.
    let fence: Fence

    init(id: String, fence: Fence) {
        self.id = id
        self.fence = fence
    }

    var shouldStop: Bool { cancelled.load(ordering: .relaxed) || interrupted.load(ordering: .relaxed) }

    func stop(interrupting: Bool) {
        if interrupting { interrupted.store(true, ordering: .relaxed) } else { cancelled.store(true, ordering: .relaxed) }
        control.withLock { $0?.cancel() }
    }
}
