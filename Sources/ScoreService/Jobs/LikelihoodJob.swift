import Dispatch
import Foundation
import ScoreEngine
import Synchronization

/// A likelihood job: log p of n points of a data set under a model, by the probability-flow ODE, in nats
/// and bits per dimension (means with standard errors). Rows are split over the lane's threads.
struct LikelihoodJob {
    let runner: JobRunner
    let live: RunningJob

    func run(_ job: inout JobRecord) throws -> JobOutcome {
        let p = job.params
        guard case .string(let modelID)? = p["model"], case .string(let dataset)? = p["dataset"],
              case .number(let n)? = p["n"], case .number(let seed)? = p["seed"] else {
            return .failed("malformed likelihood parameters")
        }
        let model = try runner.models.load(modelID)
        guard let sde = model.schedule.sde else { return .failed("the model was not trained on an SDE") }
        let count = Int(n)
        let all = try runner.datasets.load(dataset, size: count, seed: UInt64(seed) &+ 1)
        let images = model.sampleShape.count > 1
        // Images are 8-bit data in [0, 1]: uniformly dequantised, their bits/dim carry the bin width (8 bits).
        let raw = all.rows(0..<min(count, all.shape[0]))
        let x = images ? Dequantization.apply(raw, seed: UInt64(seed)) : raw
        let d = x.count / x.shape[0]
        var divergence = LikelihoodEstimator.Divergence.exact
        if case .string(let s)? = p["divergence"], s != "exact" {
            divergence = .hutchinson(Probe(rawValue: (p["probe"].flatMap { if case .string(let q) = $0 { return q }; return nil }) ?? "rademacher") ?? .rademacher)
        }
        var rtol = 1e-5, atol = 1e-5
        if case .number(let v)? = p["rtol"] { rtol = v }
        if case .number(let v)? = p["atol"] { atol = v }
        let estimator = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: rtol, atol: atol)),
                                            divergence: divergence)
        let started = Date()
        let control = SamplingControl(totalRows: x.shape[0]) { [runner, live] f in
            runner.report(live, JobProgress(step: Int((f * 1000).rounded()), total: 1000))
        }
        live.control.withLock { $0 = SamplingControlBox(control: control) }
        let threads = max(1, min(runner.config.threads[.sample] ?? 2, x.shape[0]))
        let parts = (0..<threads).map { k in (k * x.shape[0] / threads)..<((k + 1) * x.shape[0] / threads) }
        let results = Mutex<[Int: Result<LikelihoodEstimator.Result, Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: threads) { k in
            let r = Result { try estimator.logLikelihood(model, x.rows(parts[k]), seed: UInt64(seed), first: parts[k].lowerBound, control: control) }
            if case .failure = r { control.cancel() }
            results.withLock { $0[k] = r }
        }
        let chunks = try results.withLock { r in try (0..<threads).map { try r[$0]!.get() } }
        let logp = chunks.flatMap(\.logLikelihood)
        let offset = images ? Dequantization.offsetBits : 0
        let bpd = LikelihoodEstimator.Result(logLikelihood: logp, latent: .zeros([0]), nfe: 0).bitsPerDimension(dimension: d, offset: offset)
        func stats(_ v: [Double]) -> (Double, Double) {
            let m = v.reduce(0, +) / Double(v.count)
            let se = v.count > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1) / Double(v.count)).squareRoot() : 0
            return (m, se)
        }
        let (nll, nllSE) = stats(logp.map { -$0 }), (b, bSE) = stats(bpd)
        let seconds = Date().timeIntervalSince(started)
        return .succeeded([
            "nll_nats": .number(nll), "nll_stderr": .number(nllSE), "bits_per_dim": .number(b), "bits_per_dim_stderr": .number(bSE),
            "n": .number(Double(logp.count)), "dimension": .number(Double(d)), "nfe": .number(Double(chunks.map(\.nfe).max() ?? 0)),
            "divergence": .string(divergence == .exact ? "exact" : "hutchinson"), "seconds": .number((seconds * 100).rounded() / 100),
            "dequantization_offset_bits": .number(offset), "dequantized": .bool(images),
        ])
    }
}
