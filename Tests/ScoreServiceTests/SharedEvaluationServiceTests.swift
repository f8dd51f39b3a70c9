import Foundation
import ScoreEngine
import ScoreService
import TestSupport
import Testing

/// Sampling jobs on the same model that run at the same time batch their network evaluations.
@Suite(.serialized) struct SharedEvaluationServiceTests {
    /// Four jobs queued at once run together (four sampling workers, the harness's one compute slot) and share
    /// evaluations, which the jobs' results and `/metrics` count; each job's samples are those the same request
    /// draws alone afterwards, when nothing is shared.
    @Test func concurrentJobsShareEvaluations() throws {
        let h = try Harness()
        let base = h.base
        // Evaluations of 500 rows through a 256×256 MLP: long enough (about a millisecond) to be shared, and two
        // of them fit in one batch (1024 rows at most).
        let model = try StreamingTests.train(base, #"{"steps": 50, "model": {"hidden": [256, 256]}}"#)
        let query = "model=\(model)&sampler=pc&steps=200&n=500&format=json"
        let ids = try (1...4).map { seed in
            try #require(http("GET", "\(base)/samples?\(query)&seed=\(seed)&wait=false").json["id"]?.string)
        }
        var shared = 0.0
        for id in ids {
            let job = waitForJob(base, id)
            #expect(job["status"] == "succeeded")
            shared += job["result"]?["shared_evaluations"]?.number ?? 0
        }
        // Then the same requests one at a time, each job alone.
        for (k, id) in ids.enumerated() {
            let together = http("GET", "\(base)/jobs/\(id)/result").json
            let alone = http("GET", "\(base)/samples?\(query)&seed=\(k + 1)").json
            #expect(alone["shared_evaluations"] == 0, "a job alone shares nothing")
            let a = (together["points"]?.array ?? []).flatMap { $0.array ?? [] }.compactMap { $0.number }
            let b = (alone["points"]?.array ?? []).flatMap { $0.array ?? [] }.compactMap { $0.number }
            #expect(a.count == 1000 && b.count == 1000)
            #expect(zip(a, b).map { abs($0 - $1) }.max() ?? 1 < 1e-5, "job \(k): the samples drawn together are those drawn alone")
        }
        #expect(shared > 0, "jobs running together batched some of their 400 evaluations each")
        let metrics = http("GET", "\(base)/metrics").text
        func value(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        let batches = try #require(value("scored_sample_evaluations_total"))
        let requests = try #require(value("scored_sample_evaluation_requests_total"))
        #expect(requests == 8 * 397, "every evaluation but the three timed ones of the eight jobs went through the lane's pool")
        #expect(batches < requests && (value("scored_sample_shared_evaluations_total") ?? 0) > 0)
    }

    /// Likelihood jobs run one at a time on a node (each holds gradient tapes of the whole network), while
    /// sampling jobs go on beside them on the lane's other workers.
    @Test func likelihoodJobsRunOneAtATime() throws {
        let h = try Harness()
        let base = h.base
        let model = try StreamingTests.train(base, #"{"steps": 50, "model": {"hidden": [64, 64]}}"#)
        let ids = try (0..<3).map { _ in
            try #require(http("POST", "\(base)/likelihood", body: #"{"model": "\#(model)", "n": 400}"#).json["id"]?.string)
        }
        let sample = try #require(http("GET", "\(base)/samples?model=\(model)&n=10&wait=false").json["id"]?.string)
        let jobs = ids.map { waitForJob(base, $0) }
        #expect(jobs.allSatisfy { $0["status"] == "succeeded" })
        #expect(waitForJob(base, sample)["status"] == "succeeded")
        // (ISO 8601 times to the millisecond, in one format: their order is the strings'.)
        let spans = try jobs.map { j -> (String, String) in
            (try #require(j["started_at"]?.string), try #require(j["finished_at"]?.string))
        }.sorted { $0.0 < $1.0 }
        for (a, b) in zip(spans, spans.dropFirst()) {
            #expect(b.0 >= a.1, "a likelihood job started before the one before it ended: \(spans)")
        }
    }
}
