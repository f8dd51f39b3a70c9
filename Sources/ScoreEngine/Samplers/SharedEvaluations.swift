import Foundation

/// Network evaluations of concurrent sampling runs, batched where their networks are the same: a bounded set of
/// compute slots (as many as the cores the runs are given) shared by every run, and per network a queue of the
/// evaluations waiting for a slot. A caller that finds a slot free evaluates the queue's head at once, its own
/// request and whatever other requests for the same network are waiting, up to `maxRows` rows, as one batch;
/// otherwise it waits, and its request joins the next batch. So a run alone is never delayed (a free slot is
/// taken at once), and while the slots are busy the requests of other runs accumulate into larger batches,
/// which the network evaluates at a fraction of the per-row cost of small ones, with no timer anywhere.
///
/// A row's result does not depend on the batch it is evaluated in (the networks act on each row alone), up to
/// the ordering of floating-point sums in the matrix products: the same tolerance as splitting a run's rows
/// into chunks (`RowParallel`).
public final class SharedEvaluations: @unchecked Sendable {
    /// Evaluations that may run at once.
    public let slots: Int
    private let lock = NSLock()
    private var busy = 0
    private var queues: [String: [Request]] = [:]
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

    /// A waiting evaluation. Its caller sleeps on its own semaphore, signalled when its result is in or when a
    /// slot comes free while it heads its queue (so one completion wakes the callers it served and one more,
    /// not every waiting thread).
    final class Request {
        let x: Tensor
        let t: [Double]
        let run: ObjectIdentifier
        let wake = DispatchSemaphore(value: 0)
        var result: Tensor?
        var shared = false
        init(x: Tensor, t: [Double], run: ObjectIdentifier) { self.x = x; self.t = t; self.run = run }
    }

    public init(slots: Int) {
        precondition(slots >= 1)
        self.slots = slots
    }

    public var counts: Counts { lock.withLock { done } }

    /// Requests waiting for a slot, for `network` (tests see batches forming through it).
    public func waiting(_ network: String) -> Int { lock.withLock { queues[network]?.count ?? 0 } }

    /// f(x, t) for the network named `network`, evaluated alone or in a batch with the waiting requests of other
    /// runs for the same network (rows of x and entries of t concatenated, the result split back). `evaluate`
    /// must act on each row alone and be the same function for every caller naming the network. Returns the
    /// result and whether it was evaluated with another run's rows.
    public func evaluate(_ network: String, x: Tensor, t: [Double], run: ObjectIdentifier, maxRows: Int,
                         _ evaluate: (Tensor, [Double]) -> Tensor) -> (Tensor, shared: Bool) {
        precondition(x.rank >= 1 && x.shape[0] == t.count)
        let request = Request(x: x, t: t, run: run)
        lock.lock()
        queues[network, default: []].append(request)
        while request.result == nil {
            guard busy < slots, let queue = queues[network], !queue.isEmpty else {
                lock.unlock()
                request.wake.wait()
                lock.lock()
                continue
            }
            // Take the head of the queue (this request or older ones) up to maxRows rows, at least one request.
            var taken = 1, rows = queue[0].t.count
            while taken < queue.count, rows + queue[taken].t.count <= maxRows {
                rows += queue[taken].t.count
                taken += 1
            }
            let batch = Array(queue[0..<taken])
            queues[network] = queue.count == taken ? nil : Array(queue[taken...])
            busy += 1
            lock.unlock()
            let out: Tensor
            if batch.count == 1 {
                out = evaluate(batch[0].x, batch[0].t)
            } else {
                out = evaluate(Tensor.concatenateRows(batch.map(\.x)), batch.flatMap(\.t))
            }
            lock.lock()
            let shared = Set(batch.map(\.run)).count > 1
            var first = 0
            for r in batch {
                r.result = batch.count == 1 ? out : out.rows(first ..< first + r.t.count)
                r.shared = shared
                first += r.t.count
                if r !== request { r.wake.signal() }
            }
            busy -= 1
            done.batches += 1
            done.requests += batch.count
            if shared { done.sharedBatches += 1 }
            // The freed slot goes to the head of a queue (this network's first), unless this caller takes it.
            if request.result != nil, let head = queues[network]?.first ?? queues.values.first?.first { head.wake.signal() }
        }
        lock.unlock()
        return (request.result!, request.shared)
    }
}

/// A network's score evaluated through `SharedEvaluations`, so that the runs sampling the same network at the
/// same time share its evaluations. One per run (it counts the run's evaluations and those shared with other
/// runs). Evaluations that need gradients with respect to x go to the network directly, and so do all of a
/// run's evaluations when its first took less than `directBelow` seconds: handing an evaluation to another
/// thread and back costs tens of microseconds, more than a small MLP's evaluation of a few rows, and batching
/// such evaluations made concurrent jobs slower (`bench/shared_sampling.py`).
public final class SharedScore: ScoreFunction, @unchecked Sendable {
    public let base: any ScoreFunction
    public let network: String
    public let pool: SharedEvaluations
    public let maxRows: Int
    public let directBelow: Double
    private let tally = NSLock()
    private var evaluations = 0, shared = 0
    /// Whether the run evaluates directly, decided by its first evaluation.
    private var direct: Bool?

    /// `network` names the function `base` computes (a stored model's id): runs naming the same one are batched.
    public init(_ base: any ScoreFunction, network: String, pool: SharedEvaluations, itemShape: [Int], directBelow: Double = 0.0002) {
        self.base = base
        self.network = network
        self.pool = pool
        self.maxRows = RowParallel.batchRows(itemShape: itemShape)
        self.directBelow = directBelow
    }

    /// The run's evaluations, and how many of them were batched with another run's rows.
    public var tallies: (evaluations: Int, shared: Int) { tally.withLock { (evaluations, shared) } }

    public func score(_ x: Var, t: [Double]) -> Var {
        if x.requiresGrad { return base.score(x, t: t) }
        switch tally.withLock({ direct }) {
        case nil:
            let start = DispatchTime.now().uptimeNanoseconds
            let out = evaluateScore(base, x.value, t, tape: Tape(recording: false))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            tally.withLock {
                if direct == nil { direct = seconds < directBelow }
                evaluations += 1
            }
            return x.tape.constant(out)
        case true?:
            tally.withLock { evaluations += 1 }
            return base.score(x, t: t)
        case false?:
            let base = self.base
            let (out, wasShared) = pool.evaluate(network, x: x.value, t: t, run: ObjectIdentifier(self), maxRows: maxRows) { x, t in
                evaluateScore(base, x, t, tape: Tape(recording: false))
            }
            tally.withLock {
                evaluations += 1
                if wasShared { shared += 1 }
            }
            return x.tape.constant(out)
        }
    }
}
