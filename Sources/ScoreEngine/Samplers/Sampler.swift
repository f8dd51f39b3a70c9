import Dispatch
import Foundation
import Synchronization

/// A way of drawing samples given a score. `sample` draws rows [first, first + count) of a request; row i
/// takes its random numbers from Philox stream i of `seed` only, so a sample is the same however the rows
/// are split into chunks, and chunks can run on separate threads.
public protocol Sampler: Sendable {
    func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64,
                control: SamplingControl?) throws -> SampleBatch
}

/// Rows drawn by a sampler and the number of (batched) score evaluations it took.
public struct SampleBatch: Sendable {
    public var x: Tensor
    public var nfe: Int
    public init(x: Tensor, nfe: Int) { self.x = x; self.nfe = nfe }
}

/// Thrown when a run is cancelled through its `SamplingControl`.
public struct CancelledError: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "cancelled" }
}

/// The state of a run between its steps, as the chunk holding row 0 shows it: the current samples (in the
/// data's space) and, where the sampler has one, the denoised estimate E[x₀ | x_t].
public struct SamplingPreview: Sendable {
    public let step: Int
    public let total: Int
    public let x: Tensor
    public let denoised: Tensor?
}

/// Progress reporting, previews and cancellation shared by the chunks of one run (thread-safe).
public final class SamplingControl: Sendable {
    private let cancelled = Atomic<Bool>(false)
    /// Done fraction of each chunk, keyed by its first row, weighted by its rows.
    private let done: Mutex<[Int: (rows: Int, fraction: Double)]> = Mutex([:])
    private let onProgress: (@Sendable (Double) -> Void)?
    private let previewEvery: Int
    private let onPreview: (@Sendable (SamplingPreview) -> Void)?
    /// Rows in the whole run.
    public let totalRows: Int

    /// `onProgress` receives the completed fraction in [0, 1] (from whichever thread advances it);
    /// `onPreview` the state of the chunk holding row 0 every `previewEvery` steps and at its last.
    public init(totalRows: Int, previewEvery: Int = 0, onProgress: (@Sendable (Double) -> Void)? = nil,
                onPreview: (@Sendable (SamplingPreview) -> Void)? = nil) {
        self.totalRows = max(totalRows, 1)
        self.onProgress = onProgress
        self.previewEvery = previewEvery
        self.onPreview = onPreview
    }

    /// Called by samplers after step `step` of `total`; `state` (the samples in the data's space, and the
    /// denoised estimate if there is one) is evaluated only when a preview is due.
    public func preview(first: Int, step: Int, total: Int, _ state: () -> (x: Tensor, denoised: Tensor?)) {
        guard let onPreview, previewEvery > 0, first == 0, step % previewEvery == 0 || step == total else { return }
        let s = state()
        onPreview(SamplingPreview(step: step, total: total, x: s.x, denoised: s.denoised))
    }

    public func cancel() { cancelled.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Throws `CancelledError` once cancelled.
    public func check() throws { if isCancelled { throw CancelledError() } }

    /// Records that the chunk of `rows` rows starting at `first` has done `fraction` of its work.
    public func report(first: Int, rows: Int, fraction: Double) {
        let total = totalRows
        let overall = done.withLock { d -> Double in
            d[first] = (rows, min(max(fraction, 0), 1))
            return d.values.reduce(0) { $0 + Double($1.rows) * $1.fraction } / Double(total)
        }
        onProgress?(min(overall, 1))
    }
}

/// Runs a sampler over n rows in chunks (`RowParallel`) and joins the rows.
public struct SamplingRun: Sendable {
    public var sampler: any Sampler
    public var count: Int
    public var seed: UInt64
    public var chunkSize: Int
    public var threads: Int

    public init(sampler: any Sampler, count: Int, seed: UInt64, chunkSize: Int = 1024, threads: Int = 2) {
        precondition(count >= 1 && chunkSize >= 1 && threads >= 1)
        self.sampler = sampler
        self.count = count
        self.seed = seed
        self.chunkSize = chunkSize
        self.threads = threads
    }

    /// A run with the chunk size `RowParallel.chunkSize` picks for samples of `shape`.
    public init(sampler: any Sampler, count: Int, seed: UInt64, shape: [Int], threads: Int, streamed: Bool = false) {
        self.init(sampler: sampler, count: count, seed: seed,
                  chunkSize: RowParallel.chunkSize(itemShape: shape, count: count, threads: threads, streamed: streamed), threads: threads)
    }

    /// The rows of every chunk joined; `onChunk` receives each chunk as it finishes (in the order they finish).
    public func run(_ score: any ScoreFunction, shape: [Int], control: SamplingControl? = nil,
                    onChunk: (@Sendable (Range<Int>, SampleBatch) -> Void)? = nil) throws -> SampleBatch {
        let sampler = self.sampler, seed = self.seed
        let parts = try RowParallel.map(count: count, chunkSize: chunkSize, threads: threads, control: control, onResult: onChunk) { rows in
            let s = score.restricted(to: Array(rows))
            return try sampler.sample(s, shape: shape, first: rows.lowerBound, count: rows.count, seed: seed, control: control)
        }
        return SampleBatch(x: Tensor.concatenateRows(parts.map(\.x)), nfe: parts.map(\.nfe).max() ?? 0)
    }
}

/// Work over the rows [0, n) of a request, split into chunks that run `threads` at a time. Each chunk's result
/// depends only on its rows (per-row random streams), so the split changes nothing but the speed.
public enum RowParallel {
    /// Rows per chunk (a chunk is one batch on one thread): points in chunks of up to 1024; images split
    /// evenly over the threads, at most 32 per chunk (a 28×28 U-Net batch of 32 holds about 60 MB of
    /// activations while the ODE solver's stages are alive). Streamed runs take smaller chunks, at least four
    /// per thread (8 images or 256 points at the least), so the first arrive after a fraction of the run.
    public static func chunkSize(itemShape: [Int], count: Int, threads: Int, streamed: Bool = false) -> Int {
        let t = max(threads, 1)
        if streamed {
            let floor = itemShape.count > 1 ? 8 : 256
            return max(1, min(chunkSize(itemShape: itemShape, count: count, threads: threads), max(floor, count / (4 * t))))
        }
        guard itemShape.count > 1 else { return batchRows(itemShape: itemShape) }
        return max(1, min(batchRows(itemShape: itemShape), (count + t - 1) / t))
    }

    /// The largest batch one thread evaluates: 1024 points, 32 images (the chunks of a run, and the batches
    /// `SharedEvaluations` forms from several runs' requests).
    public static func batchRows(itemShape: [Int]) -> Int { itemShape.count > 1 ? 32 : 1024 }

    /// The chunks: at least `threads` when there are enough rows, so every thread has work.
    public static func chunks(count: Int, chunkSize: Int, threads: Int) -> [Range<Int>] {
        precondition(count >= 1 && chunkSize >= 1 && threads >= 1)
        let k = max((count + chunkSize - 1) / chunkSize, min(threads, count))
        let base = count / k, extra = count % k
        var out: [Range<Int>] = []
        var start = 0
        for i in 0..<k {
            let len = base + (i < extra ? 1 : 0)
            out.append(start ..< start + len)
            start += len
        }
        return out
    }

    /// Runs `body` on every chunk and returns the results in row order. The first failure cancels the other
    /// chunks (through `control`) and is rethrown.
    public static func map<T: Sendable>(count: Int, chunkSize: Int, threads: Int, control: SamplingControl?,
                                        onResult: (@Sendable (Range<Int>, T) -> Void)? = nil,
                                        _ body: @escaping @Sendable (Range<Int>) throws -> T) throws -> [T] {
        let parts = chunks(count: count, chunkSize: chunkSize, threads: threads)
        let results = Mutex<[Int: Result<T, Error>]>([:])
        let next = Atomic<Int>(0)
        // The caller and threads of its own, which inherit its scheduling (a job's worker runs at the lowest
        // priority, and so do its chunks); Dispatch's threads would run them at the default one.
        withThreads(min(threads, parts.count)) {
            while true {
                let k = next.add(1, ordering: .relaxed).oldValue
                if k >= parts.count { return }
                // A chunk that ends after its run was cancelled counts as cancelled: an evaluation cut short by the
                // cancel (a shared one waiting for its slot) may have given it wrong rows.
                let r = Result { () throws -> T in
                    let value = try body(parts[k])
                    try control?.check()
                    return value
                }
                switch r {
                case .failure: control?.cancel()
                case .success(let value): onResult?(parts[k], value)
                }
                results.withLock { $0[k] = r }
            }
        }
        let all = results.withLock { r in (0..<parts.count).map { r[$0]! } }
        // The failure that cancelled the others, rather than a chunk's report of being cancelled.
        for case .failure(let e) in all where !(e is CancelledError) { throw e }
        return try all.map { try $0.get() }
    }
}

/// Runs `body` on the calling thread and on n − 1 new threads at once, and returns when all have returned. The
/// new threads inherit the caller's scheduling policy and nice value.
func withThreads(_ n: Int, _ body: @escaping @Sendable () -> Void) {
    let group = DispatchGroup()
    for _ in 1..<max(n, 1) {
        group.enter()
        let t = Thread { body(); group.leave() }
        t.stackSize = 8 << 20
        t.start()
    }
    body()
    group.wait()
}

/// Evaluates a score on plain tensors with a non-recording tape.
public func evaluateScore(_ score: any ScoreFunction, _ x: Tensor, _ t: [Double], tape: Tape) -> Tensor {
    tape.reset()
    let wasRecording = tape.isRecording
    tape.isRecording = false
    defer { tape.isRecording = wasRecording; tape.reset() }
    return score.score(tape.constant(x), t: t).value
}

/// Tweedie's formula: E[x₀ | x_t] = (x_t + σ(t)² ∇ log p_t(x_t))/m(t) for x_t = m(t)x₀ + σ(t)z (Efron 2011),
/// the optional final denoising step of the samplers (one more score evaluation).
public func tweedieDenoise(_ x: Tensor, score s: Tensor, t: Double, perturbation: any Perturbation) -> Tensor {
    let sigma = perturbation.std(t), m = perturbation.meanCoefficient(t)
    return (x + s * Float(sigma * sigma)) * Float(1 / m)
}
