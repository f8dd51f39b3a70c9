import Dispatch
import Foundation

/// Tasks waiting for a change of something keyed (a job's version, a stream's groups), suspended rather than
/// blocking a thread: `wait` returns when `wake` is called for its key after it started waiting, or when its
/// timeout passes, or at once if `ready` already holds. The owner's state and `ready` are guarded by `lock`, the
/// lock the owner changes its state under; the owner calls `wake` after such a change.
final class Wakeups<Key: Hashable & Sendable>: @unchecked Sendable {
    let lock: NSLock
    private var waiting: [Key: [Int: CheckedContinuation<Void, Never>]] = [:]
    private var counter = 0

    init(lock: NSLock) { self.lock = lock }

    func wait(_ key: Key, timeout: Double, unless ready: @escaping () -> Bool) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if ready() {
                lock.unlock()
                c.resume()
                return
            }
            counter += 1
            let token = counter
            waiting[key, default: [:]][token] = c
            lock.unlock()
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak self] in self?.expire(key, token) }
        }
    }

    /// Resumes every task waiting on `key`.
    func wake(_ key: Key) {
        lock.lock()
        let list = waiting.removeValue(forKey: key)
        lock.unlock()
        for c in list?.values ?? [:].values { c.resume() }
    }

    private func expire(_ key: Key, _ token: Int) {
        lock.lock()
        let c = waiting[key]?.removeValue(forKey: token)
        if waiting[key]?.isEmpty == true { waiting[key] = nil }
        lock.unlock()
        c?.resume()
    }
}
