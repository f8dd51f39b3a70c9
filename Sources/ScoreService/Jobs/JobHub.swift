import Foundation
import ScoreEngine
import Synchronization

/// Change notification for jobs: every update bumps the job's version and wakes whoever waits for it
/// (the event streams).
final class JobHub: @unchecked Sendable {
    private let condition = NSCondition()
    private var versions: [String: Int] = [:]

    func changed(_ id: String) {
        condition.lock()
        versions[id, default: 0] += 1
        condition.broadcast()
        condition.unlock()
    }

    func version(_ id: String) -> Int {
        condition.lock()
        defer { condition.unlock() }
        return versions[id] ?? 0
    }

    /// Waits until the job's version differs from `seen` or `timeout` passes; returns the current version.
    func wait(_ id: String, after seen: Int, timeout: Double) -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while (versions[id] ?? 0) == seen {
            if !condition.wait(until: deadline) { break }
        }
        return versions[id] ?? 0
    }

    func forget(_ id: String) {
        condition.lock()
        versions[id] = nil
        condition.unlock()
    }
}

/// What the runner knows of a job while it runs: its live progress and whether it was asked to stop.
final class RunningJob: Sendable {
    let id: String
    let cancelled = Atomic<Bool>(false)
    /// Stopping for a service shutdown (the job goes back in the queue) rather than for a user's cancel.
    let interrupted = Atomic<Bool>(false)
    let progress = Mutex<JobProgress?>(nil)
    /// Cancels a sampler's loop.
    let control: Mutex<SamplingControl?> = Mutex(nil)
    /// The latest preview of a sampling job and its number (the event stream sends each once).
    let preview: Mutex<(number: Int, body: JSONValue)?> = Mutex(nil)
    /// A training job's series so far.
    let history = Mutex<TrainingHistory?>(nil)

    init(id: String) { self.id = id }

    var shouldStop: Bool { cancelled.load(ordering: .relaxed) || interrupted.load(ordering: .relaxed) }

    func stop(interrupting: Bool) {
        if interrupting { interrupted.store(true, ordering: .relaxed) } else { cancelled.store(true, ordering: .relaxed) }
        control.withLock { $0?.cancel() }
    }
}
