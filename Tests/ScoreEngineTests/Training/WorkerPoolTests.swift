import Dispatch
import Synchronization
import Testing
import ScoreEngine

@Suite struct WorkerPoolTests {
    final class Token: Sendable {}

    /// Every iteration runs exactly once per loop, over many loops (with and without parking between them).
    @Test func everyIterationRunsOnce() {
        let pool = WorkerPool.shared
        for k in [1, 2, 3, 7, 64] {
            for round in 0..<200 {
                let counts = Mutex<[Int]>(Array(repeating: 0, count: k))
                pool.run(iterations: k) { i in counts.withLock { $0[i] += 1 } }
                #expect(counts.withLock { $0 } == Array(repeating: 1, count: k), "k \(k) round \(round)")
            }
        }
    }

    /// Loops started from several threads at once (the busy pool hands them to Dispatch) all complete.
    @Test func concurrentCallers() {
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<100 {
                WorkerPool.shared.run(iterations: 3) { _ in total.add(1, ordering: .relaxed) }
            }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 100 * 3)
    }

    /// The loop's closure, and what it captures, are released when `run` returns.
    @Test func releasesTheClosure() {
        final class Weak { weak var token: Token? }
        var refs: [Weak] = []
        for _ in 0..<100 {
            let token = Token(), ref = Weak()
            ref.token = token
            refs.append(ref)
            // As the trainer passes its step: a closure held in a constant, then handed to the pool.
            let body: @Sendable (Int) -> Void = { [token] i in _ = (token, i) }
            WorkerPool.shared.run(iterations: 2, body)
        }
        #expect(refs.filter { $0.token != nil }.count == 0)
    }
}
