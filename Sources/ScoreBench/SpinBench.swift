import Dispatch
import Foundation
import Synchronization
import ScoreEngine

/// The cost of splitting a loop over two threads: `DispatchQueue.concurrentPerform` against the engine's
/// `WorkerPool`, for two iterations of a given length of work (`score-bench spin`).
enum SpinBench {
    @inline(never)
    static func work(_ n: Int) -> Double {
        var s = 0.0
        var j = 0
        while j < n { s += Double(j) * 1e-9; j += 1 }
        return s
    }

    static func run() {
        let sink = Mutex<Double>(0)
        for n in [0, 1_000, 20_000, 100_000] {
            let reps = 2000
            func time(_ f: () -> Void) -> Double {
                let start = Date()
                for _ in 0..<reps { f() }
                return Date().timeIntervalSince(start) / Double(reps) * 1e6
            }
            let alone = time { let r = work(n); sink.withLock { $0 += r } }
            let dispatch = time { DispatchQueue.concurrentPerform(iterations: 2) { _ in let r = work(n); sink.withLock { $0 += r } } }
            let pool = time { WorkerPool.shared.run(iterations: 2) { _ in let r = work(n); sink.withLock { $0 += r } } }
            print(String(format: "work %6.1f µs per iteration: concurrentPerform %6.1f µs, WorkerPool %6.1f µs per loop of two",
                         alone, dispatch, pool))
        }
    }
}
