import Dispatch
import Foundation
import ScoreEngine
import Synchronization
import Testing

/// Evaluations shared by concurrent runs: requests that wait for a busy slot are evaluated together, each gets
/// its own rows back, batches stay within their row limit, and a sampling run through the pool draws the samples
/// it draws alone while another run shares its evaluations.
@Suite struct SharedEvaluationsTests {
    final class Run: Sendable {}
    final class Calls: Sendable { let n = Atomic<Int>(0) }

    /// Runs body(0..<n) on n threads of their own at once (not a pool's, which may be narrower than n).
    static func concurrently(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for k in 0..<n {
            group.enter()
            Thread { body(k); group.leave() }.start()
        }
        group.wait()
    }

    /// f(x, t) = x·(1 + t) row by row; the first evaluation holds its slot until `hold` requests are waiting.
    static func blockingFunction(_ pool: SharedEvaluations, hold: Int, calls: Calls) -> @Sendable (Tensor, [Double]) -> Tensor {
        { x, t in
            if calls.n.add(1, ordering: .relaxed).oldValue == 0 {
                let deadline = Date().addingTimeInterval(30)
                while pool.waiting("f") < hold && Date() < deadline { Thread.sleep(forTimeInterval: 0.001) }
            }
            let inner = x.count / x.shape[0]
            return Tensor(shape: x.shape, scalars: x.scalars.enumerated().map { i, v in v * Float(1 + t[i / inner]) })
        }
    }

    /// Four callers of two rows each, one slot: the first is evaluated alone, the three that queued behind it in
    /// one batch (up to 8 rows), or in a batch of two and one alone (up to 4 rows), and every caller gets exactly
    /// its own rows' values.
    @Test(arguments: [(8, 2, 3), (4, 3, 2)]) func waitingRequestsAreBatched(maxRows: Int, batches: Int, sharedCallers: Int) throws {
        let pool = SharedEvaluations(slots: 1)
        let calls = Calls()
        let f = Self.blockingFunction(pool, hold: 3, calls: calls)
        let runs = (0..<4).map { _ in Run() }
        let results = Mutex<[Int: (Tensor, Bool)]>([:])
        Self.concurrently(4) { k in
            let x = Tensor(shape: [2, 3], scalars: (0..<6).map { Float(10 * k + $0) })
            let out = pool.evaluate("f", x: x, t: [Double(k), 0.5], run: ObjectIdentifier(runs[k]), maxRows: maxRows) { x, t, _ in f(x, t) }
            results.withLock { $0[k] = out }
        }
        #expect(pool.counts == .init(batches: batches, requests: 4, sharedBatches: 1))
        for k in 0..<4 {
            let (out, _) = try #require(results.withLock { $0[k] })
            let expected = (0..<6).map { i in Float(10 * k + i) * Float(1 + (i < 3 ? Double(k) : 0.5)) }
            #expect(out.shape == [2, 3] && out.scalars == expected)
        }
        #expect(results.withLock { $0.values.filter(\.1).count } == sharedCallers, "callers evaluated with another run's rows")
    }

    /// A small VP model of 2-D points and Euler's method over `steps` steps.
    static func smallEuler(steps: Int) throws -> (ScoreModel, any Sampler) {
        let sde = VPSDE()
        let model = ScoreModel(architecture: .mlp(.init(hidden: [8])), schedule: .sde(sde), seed: 3)
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [2])
        let entry = try #require(SamplerRegistry.entry("euler"))
        return (model, entry.make(try entry.resolve(["steps": .text("\(steps)")], for: space), space))
    }

    /// A run whose first evaluation is quicker than a hand-off evaluates directly, and its samples are the same.
    @Test func quickEvaluationsGoDirect() throws {
        let (model, sampler) = try Self.smallEuler(steps: 30)
        let pool = SharedEvaluations(slots: 1)
        let quick = SharedScore(model, network: "m", pool: pool, itemShape: [2], directBelow: 10)
        let a = try SamplingRun(sampler: sampler, count: 5, seed: 1, chunkSize: 5, threads: 1).run(quick, shape: [2]).x
        let b = try SamplingRun(sampler: sampler, count: 5, seed: 1, chunkSize: 5, threads: 1).run(model, shape: [2]).x
        #expect(a.maxAbsDifference(b) < 1e-6)
        #expect(pool.counts.requests == 0 && quick.tallies.evaluations == 30)
    }

    /// A caller that finds a slot free is evaluated at once, alone.
    @Test func aRunAloneIsNotDelayed() throws {
        let pool = SharedEvaluations(slots: 2)
        let x = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let (out, shared) = try #require(pool.evaluate("g", x: x, t: [0, 0, 0], run: ObjectIdentifier(Run()), maxRows: 1) { x, _, _ in x.scaled(by: 2) })
        #expect(out.scalars == [2, 4, 6, 8, 10, 12] && !shared)
        #expect(pool.counts == .init(batches: 1, requests: 1, sharedBatches: 0))
    }

    /// A request waiting for the one slot while its run is cancelled leaves the queue without being evaluated;
    /// once the holder lets the slot go, the next request takes it.
    @Test func aCancelledWaiterLeaves() throws {
        let pool = SharedEvaluations(slots: 1)
        let holding = DispatchSemaphore(value: 0), letGo = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        Thread {
            _ = pool.withSlot { holding.signal(); letGo.wait() }
            finished.signal()
        }.start()
        holding.wait()
        let x = Tensor(shape: [1, 2], scalars: [1, 2])
        let evaluated = Calls()
        let cancelled = pool.evaluate("g", x: x, t: [0], run: ObjectIdentifier(Run()), maxRows: 8, isCancelled: { true }) { x, _, _ in
            evaluated.n.add(1, ordering: .relaxed)
            return x
        }
        #expect(cancelled == nil && pool.waiting("g") == 0 && evaluated.n.load(ordering: .relaxed) == 0)
        letGo.signal()
        finished.wait()
        let next = pool.evaluate("g", x: x, t: [0], run: ObjectIdentifier(Run()), maxRows: 8) { x, _, _ in x.scaled(by: 3) }
        #expect(next?.0.scalars == [3, 6])
    }

    /// Four DPM-Solver runs of an MLP score model through one pool with one slot, at the same time: each draws
    /// the samples it draws alone (to the tolerance of splitting rows into chunks), and while one run held the
    /// slot the others' requests were batched.
    @Test func concurrentRunsDrawTheirOwnSamples() throws {
        let sde = VPSDE()
        let model = ScoreModel(architecture: .mlp(.init(hidden: [32, 32])), schedule: .sde(sde), seed: 3)
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [2])
        let entry = try #require(SamplerRegistry.entry("dpm_solver"))
        let sampler = entry.make(try entry.resolve(["steps": .text("1000")], for: space), space)
        let seeds: [UInt64] = [5, 6, 7, 8]
        let alone = try seeds.map { seed in
            try SamplingRun(sampler: sampler, count: 50, seed: seed, chunkSize: 50, threads: 1).run(model, shape: [2]).x
        }
        let pool = SharedEvaluations(slots: 1)
        let shared = seeds.map { _ in SharedScore(model, network: "m", pool: pool, itemShape: [2], directBelow: 0) }
        let together = Mutex<[Int: Tensor]>([:])
        Self.concurrently(4) { k in
            let x = try? SamplingRun(sampler: sampler, count: 50, seed: seeds[k], chunkSize: 50, threads: 1).run(shared[k], shape: [2]).x
            together.withLock { $0[k] = x }
        }
        for k in 0..<4 {
            let x = try #require(together.withLock { $0[k] })
            #expect(x.maxAbsDifference(alone[k]) < 1e-5)
            #expect(shared[k].tallies.evaluations == 1000)
        }
        let counts = pool.counts
        #expect(counts.requests == 4 * 997, "every evaluation but the three timed ones of each run went through the pool")
        // The runs overlapped for hundreds of evaluations on one slot: while one held it, others' requests queued.
        #expect(counts.sharedBatches > 0 && counts.batches < 4000)
        #expect(shared.map(\.tallies.shared).reduce(0, +) > 0)
    }

    /// Four guided runs (each its own class) through one pool with one slot, at the same time: the classifier's
    /// gradients of different runs are batched, each row toward its own label, and every run draws the samples it
    /// draws alone.
    @Test func guidedRunsShareTheClassifierGradients() throws {
        let sde = VPSDE()
        let mixture = GaussianMixture(means: [[-2, 0], [2, 1]], weights: [0.5, 0.5], variance: 0.25, perturbation: sde)
        let space = DescribedSpace(schedule: .sde(sde), sampleShape: [2])
        let entry = try #require(SamplerRegistry.entry("euler"))
        let sampler = entry.make(try entry.resolve(["steps": .text("400")], for: space), space)
        @Sendable func guided(_ k: Int, _ classifier: any NoiseConditionalClassifier) -> GuidedScore {
            GuidedScore(base: mixture, classifier: classifier, labels: [Int](repeating: k % 2, count: 40), scale: 2)
        }
        let alone = try (0..<4).map { k in
            try SamplingRun(sampler: sampler, count: 40, seed: UInt64(k), chunkSize: 40, threads: 1).run(guided(k, mixture), shape: [2]).x
        }
        let pool = SharedEvaluations(slots: 1)
        let classifiers = (0..<4).map { _ in SharedClassifier(mixture, network: "c", pool: pool, itemShape: [2], directBelow: 0) }
        let together = Mutex<[Int: Tensor]>([:])
        Self.concurrently(4) { k in
            let x = try? SamplingRun(sampler: sampler, count: 40, seed: UInt64(k), chunkSize: 40, threads: 1)
                .run(guided(k, classifiers[k]), shape: [2]).x
            together.withLock { $0[k] = x }
        }
        for k in 0..<4 {
            let x = try #require(together.withLock { $0[k] })
            #expect(x.maxAbsDifference(alone[k]) < 1e-5, "run \(k)")
            #expect(classifiers[k].tallies.evaluations == 400)
        }
        #expect(pool.counts.sharedBatches > 0 && pool.waiting("c/∇log p(y|x)") == 0)
        #expect(classifiers.map(\.tallies.shared).reduce(0, +) > 0)
        // The class means are far apart: the runs of class 0 sit left, those of class 1 right.
        #expect((0..<4).allSatisfy { k in
            let x = alone[k]
            let mean = (0..<40).map { Double(x.scalars[2 * $0]) }.reduce(0, +) / 40
            return k % 2 == 0 ? mean < -1 : mean > 1
        })
    }

    /// A run cancelled while its only evaluation waits for a slot (held elsewhere) gets zeros for it, after the
    /// sampler's own check: the run ends cancelled, never with those rows.
    @Test func aRunCancelledWhileWaitingIsCancelled() throws {
        let (model, sampler) = try Self.smallEuler(steps: 1)
        let pool = SharedEvaluations(slots: 1)
        let control = SamplingControl(totalRows: 4)
        let score = SharedScore(model, network: "m", pool: pool, itemShape: [2], directBelow: 0, isCancelled: { control.isCancelled })
        let holding = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        Thread {
            _ = pool.withSlot {
                holding.signal()
                while !control.isCancelled { Thread.sleep(forTimeInterval: 0.001) }
            }
            finished.signal()
        }.start()
        holding.wait()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { control.cancel() }
        #expect(throws: CancelledError.self) {
            _ = try SamplingRun(sampler: sampler, count: 4, seed: 0, chunkSize: 4, threads: 1).run(score, shape: [2], control: control)
        }
        finished.wait()
    }
}
