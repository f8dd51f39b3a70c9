import Foundation

/// Network evaluations of concurrent sampling runs, batched where their networks are the same: a bounded set of
/// compute slots (as many as the cores the runs are given) shared by every run, and one queue, oldest first, of
/// the evaluations waiting for a slot. A caller that finds a slot free takes it at once; otherwise it waits. A
/// slot that comes free passes straight to the oldest waiting request (whatever its network), whose caller then
/// evaluates its own rows together with every other waiting request for the same network, up to `maxRows`
/// rows, as one batch. So a run alone is never delayed, runs on different networks take turns in the order they
/// asked, and while the slots are busy the requests of runs on the same network accumulate into larger
/// batches, with no timer anywhere.
///
/// A row's result does not depend on the batch it is evaluated in (the networks act on each row alone), up to
/// the ordering of floating-point sums in the matrix products: the same tolerance as splitting a run's rows
/// into chunks (`RowParallel`).
public final class SharedEvaluations: @unchecked Sendable {
    /// Evaluations that may run at once.
    public let slots: Int
    private let lock = NSLock()
    /// Slots held. Requests wait only while all are held: a slot freed with requests waiting passes to the
    /// oldest without being released.
    private var busy = 0
    private var waiting: [Request] = []
    private var done = Counts()

    /// What the pool has done since it was made.
    public struct Counts: Sendable, Equatable {
        /// Batches evaluated.
        public var batches = 0
        /// Requests evaluated (equal to `batches` when nothing was batched).
        public var requests = 0
        /// Batches that held requests of more than one run.
        public var sharedBatches = 0
        public init(batches: Int = 0, requests: Int = 0, sharedBatches: Int = 0) {
            self.batches = batches; self.requests = requests; self.sharedBatches = sharedBatches
        }
    }

    /// A caller's request: an evaluation for a network (batched with others for it), or work of its own (`network`
    /// nil: a slot for the caller alone). Its caller sleeps on its own semaphore, signalled when its result is in
    /// or when a slot is passed to it.
    final class Request {
        let network: String?
        let x: Tensor
        let t: [Double]
        let labels: [Int]
        let run: ObjectIdentifier?
        let wake = DispatchSemaphore(value: 0)
        var granted = false
        var result: Tensor?
        var shared = false
        init(network: String?, x: Tensor, t: [Double], labels: [Int] = [], run: ObjectIdentifier?) {
            self.network = network; self.x = x; self.t = t; self.labels = labels; self.run = run
        }
    }

    public init(slots: Int) {
        precondition(slots >= 1)
        self.slots = slots
    }

    public var counts: Counts { lock.withLock { done } }

    /// Requests waiting for a slot, for `network` (tests see batches forming through it).
    public func waiting(_ network: String) -> Int { lock.withLock { waiting.filter { $0.network == network }.count } }

    /// With the lock held: returns once the request holds a slot (`granted`) or was served in another caller's
    /// batch (`result`), or with false once `isCancelled` says so while it still waits (checked every 20 ms).
    private func obtain(_ r: Request, isCancelled: () -> Bool) -> Bool {
        if busy < slots {
            busy += 1
            r.granted = true
            return true
        }
        if isCancelled() { return false }
        waiting.append(r)
        while r.result == nil && !r.granted {
            lock.unlock()
            _ = r.wake.wait(timeout: .now() + .milliseconds(20))
            lock.lock()
            if r.result == nil && !r.granted && isCancelled() {
                waiting.removeAll { $0 === r }
                return false
            }
        }
        return true
    }

    /// With the lock held: the slot passes to the oldest waiting request, or is freed.
    private func release() {
        if waiting.isEmpty {
            busy -= 1
        } else {
            let next = waiting.removeFirst()
            next.granted = true
            next.wake.signal()
        }
    }

    /// Runs `body` holding a slot of its own (work that is not batched, such as a run's first evaluation); nil,
    /// without running it, when `isCancelled` says so while it waits.
    public func withSlot<T>(isCancelled: () -> Bool = { false }, _ body: () throws -> T) rethrows -> T? {
        let r = Request(network: nil, x: Tensor.zeros([1]), t: [], run: nil)
        lock.lock()
        guard obtain(r, isCancelled: isCancelled) else { lock.unlock(); return nil }
        lock.unlock()
        defer { lock.withLock { release() } }
        return try body()
    }

    /// f(x, t, labels) for the network named `network`, evaluated alone or in a batch with the waiting requests of
    /// other runs for the same network (rows of x, entries of t and of the per-row labels concatenated, the result
    /// split back). `labels` is empty or one per row (a classifier's gradient toward each row's class), the same
    /// for every caller naming the network. `evaluate` must act on each row alone and be the same function for
    /// every caller naming the network. Returns the result and whether it was evaluated with another run's rows;
    /// nil when `isCancelled` says so while the request waits.
    public func evaluate(_ network: String, x: Tensor, t: [Double], labels: [Int] = [], run: ObjectIdentifier, maxRows: Int,
                         isCancelled: () -> Bool = { false },
                         _ evaluate: (Tensor, [Double], [Int]) -> Tensor) -> (Tensor, shared: Bool)? {
        precondition(x.rank >= 1 && x.shape[0] == t.count && (labels.isEmpty || labels.count == t.count))
        let request = Request(network: network, x: x, t: t, labels: labels, run: run)
        lock.lock()
        guard obtain(request, isCancelled: isCancelled) else { lock.unlock(); return nil }
        if let result = request.result {
            lock.unlock()
            return (result, request.shared)
        }
        // Holding a slot: this request, then the waiting ones for the same network, oldest first, as they fit.
        var batch = [request], rows = t.count, k = 0
        while k < waiting.count {
            let w = waiting[k]
            if w.network == network && rows + w.t.count <= maxRows {
                batch.append(w)
                rows += w.t.count
                waiting.remove(at: k)
            } else {
                k += 1
            }
        }
        lock.unlock()
        let out = batch.count == 1 ? evaluate(x, t, labels)
            : evaluate(Tensor.concatenateRows(batch.map(\.x)), batch.flatMap(\.t), batch.flatMap(\.labels))
        lock.lock()
        let shared = Set(batch.map(\.run)).count > 1
        var first = 0
        for r in batch {
            r.result = batch.count == 1 ? out : out.rows(first ..< first + r.t.count)
            r.shared = shared
            first += r.t.count
            if r !== request { r.wake.signal() }
        }
        done.batches += 1
        done.requests += batch.count
        if shared { done.sharedBatches += 1 }
        release()
        lock.unlock()
        return (request.result!, request.shared)
    }
}

/// One run's evaluations of one network through `SharedEvaluations`, so that the runs evaluating the same network
/// at the same time share them. One per run and network (it counts the run's evaluations and those shared with
/// other runs). Its first evaluations (three at least; more when several chunks start at once) hold a slot of
/// their own and are timed: when the quickest of the first three took less than `directBelow` seconds, the run's
/// evaluations go to the network directly from then on, since handing an evaluation to another thread and back
/// costs tens of microseconds, more than a small MLP's evaluation of a few rows (batching such evaluations made
/// concurrent jobs slower: `bench/shared_sampling.py`). A cancelled run's evaluation that is still waiting for a
/// slot gives nil at once: the sampler stops at its next check of the run's control.
public final class SharedEvaluator: @unchecked Sendable {
    public let network: String
    public let pool: SharedEvaluations
    public let maxRows: Int
    public let directBelow: Double
    private let isCancelled: @Sendable () -> Bool
    private let tally = NSLock()
    private var evaluations = 0, shared = 0
    /// The first evaluations' times, until the run has decided.
    private var timings: [Double] = []
    /// Whether the run evaluates directly, once decided.
    private var direct: Bool?
    static let timedEvaluations = 3

    /// `network` names the function evaluated (a stored model's id and what of it): runs naming the same one are
    /// batched.
    public init(network: String, pool: SharedEvaluations, itemShape: [Int], directBelow: Double = 0.0002,
                isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.network = network
        self.pool = pool
        self.maxRows = RowParallel.batchRows(itemShape: itemShape)
        self.directBelow = directBelow
        self.isCancelled = isCancelled
    }

    /// The run's evaluation requests (one per chunk and evaluation), and how many of them were batched with
    /// another run's rows.
    public var tallies: (evaluations: Int, shared: Int) { tally.withLock { (evaluations, shared) } }

    /// f(x, t, labels), evaluated as the run decided; nil when the run was cancelled while it waited.
    public func evaluate(_ x: Tensor, t: [Double], labels: [Int] = [], _ f: (Tensor, [Double], [Int]) -> Tensor) -> Tensor? {
        switch tally.withLock({ direct }) {
        case nil:
            let timed = pool.withSlot(isCancelled: isCancelled) { () -> (Tensor, Double) in
                let start = DispatchTime.now().uptimeNanoseconds
                let out = f(x, t, labels)
                return (out, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            guard let (out, seconds) = timed else { return nil }
            tally.withLock {
                timings.append(seconds)
                if direct == nil && timings.count >= Self.timedEvaluations { direct = timings.min()! < directBelow }
                evaluations += 1
            }
            return out
        case true?:
            tally.withLock { evaluations += 1 }
            return f(x, t, labels)
        case false?:
            let result = pool.evaluate(network, x: x, t: t, labels: labels, run: ObjectIdentifier(self), maxRows: maxRows,
                                       isCancelled: isCancelled, f)
            guard let (out, wasShared) = result else { return nil }
            tally.withLock {
                evaluations += 1
                if wasShared { shared += 1 }
            }
            return out
        }
    }
}

/// A network's score evaluated through `SharedEvaluations` (see `SharedEvaluator`). Evaluations that need
/// gradients with respect to x go to the network directly; a cancelled run's waiting evaluation gives zeros.
public final class SharedScore: ScoreFunction, @unchecked Sendable {
    public let base: any ScoreFunction
    public let evaluator: SharedEvaluator

    /// `network` names the function `base` computes (a stored model's id): runs naming the same one are batched.
    public init(_ base: any ScoreFunction, network: String, pool: SharedEvaluations, itemShape: [Int], directBelow: Double = 0.0002,
                isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.base = base
        evaluator = SharedEvaluator(network: network, pool: pool, itemShape: itemShape, directBelow: directBelow, isCancelled: isCancelled)
    }

    public var tallies: (evaluations: Int, shared: Int) { evaluator.tallies }

    public func score(_ x: Var, t: [Double]) -> Var {
        if x.requiresGrad { return base.score(x, t: t) }
        let base = self.base
        let out = evaluator.evaluate(x.value, t: t) { x, t, _ in evaluateScore(base, x, t, tape: Tape(recording: false)) }
        return x.tape.constant(out ?? .zeros(x.shape))
    }
}

/// A classifier's gradient ∇ₓ log p_t(y | x) (guided sampling's) evaluated through `SharedEvaluations`, so that
/// guided runs with the same classifier at the same time share its forward and backward passes, each row with
/// its own label. Its logits go to the classifier directly.
public final class SharedClassifier: NoiseConditionalClassifier, @unchecked Sendable {
    public let base: any NoiseConditionalClassifier
    public let evaluator: SharedEvaluator

    /// `network` names the classifier (a stored model's id); its gradients are batched under `network` + "/∇log p(y|x)".
    public init(_ base: any NoiseConditionalClassifier, network: String, pool: SharedEvaluations, itemShape: [Int],
                directBelow: Double = 0.0002, isCancelled: @escaping @Sendable () -> Bool = { false }) {
        self.base = base
        evaluator = SharedEvaluator(network: network + "/∇log p(y|x)", pool: pool, itemShape: itemShape, directBelow: directBelow,
                                    isCancelled: isCancelled)
    }

    public var classes: Int { base.classes }
    public var tallies: (evaluations: Int, shared: Int) { evaluator.tallies }

    public func logits(_ x: Var, t: [Double]) -> Var { base.logits(x, t: t) }

    public func logProbabilityGradient(_ x: Tensor, t: [Double], labels: [Int]) -> Tensor {
        let base = self.base
        return evaluator.evaluate(x, t: t, labels: labels) { x, t, labels in base.logProbabilityGradient(x, t: t, labels: labels) }
            ?? .zeros(x.shape)
    }
}
