import Foundation
import ScoreEngine

/// A likelihood job: log p of n items of a data set under a model, by the probability-flow ODE, in nats and
/// bits per dimension (means with standard errors). Rows are split over the lane's threads.
struct LikelihoodJob: JobExecutor {
    func run(_ job: JobRecord, _ context: JobContext) throws -> JobOutcome {
        let p = try LikelihoodJobParameters(json: job.params)
        let model = try context.models.load(p.model).model
        guard let sde = model.schedule.sde else { return .failed("the model was not trained on an SDE") }
        let encoding = p.items != nil
        let images = model.dataKind == .images && !encoding
        let x: Tensor
        if let items = p.items {
            // Encoding: the items as given (a density at them, no dequantisation), so that decoding returns them.
            guard items.count == p.n * model.sampleShape.reduce(1, *) else { return .failed("the items do not have the model's shape") }
            x = Tensor(shape: [p.n] + model.sampleShape, scalars: items)
        } else {
            let all = try context.datasets.load(p.dataset, size: p.n, seed: UInt64(p.seed) &+ RandomPurpose.likelihoodDrawsOffset)
            // Images are 8-bit data in [0, 1]: uniformly dequantised, their bits/dim carry the bin width (8 bits).
            let raw = all.rows(0..<min(p.n, all.shape[0]))
            x = images ? Dequantization.apply(raw, seed: UInt64(p.seed)) : raw
        }
        let n = x.shape[0], d = x.count / n
        let divergence: LikelihoodEstimator.Divergence = p.divergence == "exact" ? .exact : .hutchinson(Probe(rawValue: p.probe) ?? .rademacher)
        let estimator = LikelihoodEstimator(sde: sde, solver: ODESolver(method: .adaptive(rtol: p.rtol, atol: p.atol)), divergence: divergence)
        let started = Date()
        let control = SamplingControl(totalRows: n) { f in context.report(JobProgress(step: Int((f * 1000).rounded()), total: 1000)) }
        context.live.control.withLock { $0 = control }
        let seed = UInt64(p.seed)
        let chunkSize = RowParallel.chunkSize(itemShape: model.sampleShape, count: n, threads: context.threads)
        let chunks = try RowParallel.map(count: n, chunkSize: chunkSize, threads: context.threads,
                                         control: control) { rows in
            try estimator.logLikelihood(model, x.rows(rows), seed: seed, first: rows.lowerBound, control: control)
        }
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
        let nfe = chunks.map(\.nfe).max() ?? 0
        if encoding {
            let latent = Tensor.concatenateRows(chunks.map(\.latent))
            var header: [String: JSONValue] = [
                "model": .string(p.model), "n": .number(Double(n)), "dimension": .number(Double(d)), "nfe": .number(Double(nfe)),
                "divergence": .string(p.divergence), "seconds": .number((seconds * 100).rounded() / 100),
                "nll_nats": .array(logp.map { .number(-$0) }), "bits_per_dim": .array(bpd.map { .number($0) }),
                "shape": .array(model.sampleShape.map { .number(Double($0)) }),
            ]
            let body = SampleEncoding.json(latent, header: header, key: "latent")
            try context.results.store(SampleResult(bytes: body, format: "json"), job: job.id, fence: context.fence)
            header["nll_nats"] = .number(nll)
            header["bits_per_dim"] = .number(b)
            header["format"] = "json"
            header["result"] = .string("/jobs/\(job.id)/result")
            return .succeeded(.object(header))
        }
        return .succeeded([
            "nll_nats": .number(nll), "nll_stderr": .number(nllSE), "bits_per_dim": .number(b), "bits_per_dim_stderr": .number(bSE),
            "n": .number(Double(logp.count)), "dimension": .number(Double(d)), "nfe": .number(Double(chunks.map(\.nfe).max() ?? 0)),
            "divergence": .string(p.divergence), "seconds": .number((seconds * 100).rounded() / 100),
            "dequantization_offset_bits": .number(offset), "dequantized": .bool(images),
        ])
    }
}
