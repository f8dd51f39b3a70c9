import Foundation
import ScoreEngine
import ScoreService
import Testing

/// The loss series of training jobs: bounded with even spacing, saved and read back, served by
/// `GET /jobs/{id}/metrics` while the job runs and after it ends.
@Suite struct TrainingHistoryTests {
    static func point(_ i: Int) -> TrainingHistory.Point {
        .init(step: 10 * i, loss: 1 / Double(i + 1), learningRate: 1e-3, stepsPerSecond: 100, seconds: Double(i) / 5)
    }

    @Test func boundedAndEvenlySpread() {
        var h = TrainingHistory()
        let n = 10_000
        for i in 0..<n { h.add(Self.point(i)) }
        let c = TrainingHistory.capacity
        // Between capacity and 2 × capacity kept points, the first report among them, evenly spaced by the stride.
        #expect(h.points.count >= c && h.points.count <= 2 * c, "\(h.points.count)")
        #expect(h.points.first?.step == 0)
        let gaps = Set(zip(h.points.dropFirst(), h.points).map { $0.step - $1.step })
        #expect(gaps == [10 * h.stride], "\(gaps)")
        // Every kept report is a multiple of the stride, and the stride is the smallest power of 2 that fits.
        #expect(h.stride == 16 && n / h.stride <= 2 * c + 1)
        // The latest report is served last.
        #expect(h.series.last == Self.point(n - 1) && h.reports == n)
    }

    @Test func savedAndReadBack() throws {
        var h = TrainingHistory()
        for i in 0..<1234 { h.add(Self.point(i)) }
        let parsed = try JSONValue(parsing: h.stored.serialized)
        let back = try #require(TrainingHistory(stored: parsed))
        #expect(back == h)
        // Going on after a restart spaces the new reports as before.
        var a = h, b = back
        for i in 1234..<3000 { a.add(Self.point(i)); b.add(Self.point(i)) }
        #expect(a == b)
        #expect(TrainingHistory(stored: ["kept": [:], "stride": 1, "reports": 0]) == nil)
    }

    @Test func servedForTrainingJobs() throws {
        let h = try Harness()
        let base = h.base
        let id = try #require(http("POST", "\(base)/train", body: #"{"steps": 3000, "batch_size": 64, "model": {"hidden": [32]}}"#).json["id"]?.string)
        // While it runs: a growing series.
        var live = JSONValue.null
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            live = http("GET", "\(base)/jobs/\(id)/metrics").json
            if (live["points"]?.number ?? 0) >= 2 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect((live["points"]?.number ?? 0) >= 2 && live["total"] == 3000, "\(live)")
        let done = waitForJob(base, id)
        #expect(done["status"] == "succeeded")
        // After it ends, from the saved file: the whole run, steps increasing to the last, as many values per column.
        let m = http("GET", "\(base)/jobs/\(id)/metrics").json
        let steps = m["step"]?.array?.compactMap { $0.number } ?? []
        #expect(steps.count == Int(m["points"]?.number ?? -1) && steps.count >= 2)
        #expect(zip(steps.dropFirst(), steps).allSatisfy { $0 > $1 } && steps.last == 3000)
        for column in ["loss", "learning_rate", "steps_per_second", "seconds"] { #expect(m[column]?.array?.count == steps.count, "\(column)") }
        // The learning rate the optimiser used: never above the recipe's (warm-up and decay only lower it).
        let lr = try #require(done["params"]?["learning_rate"]?.number)
        let rates = m["learning_rate"]?.array?.compactMap(\.number) ?? []
        #expect(rates.count == steps.count && rates.allSatisfy { $0 >= 0 && $0 <= lr * (1 + 1e-6) } && rates.contains { $0 > 0 })
        #expect(m["loss"]?.array?.allSatisfy { $0.number?.isFinite == true } == true)
        // Sampling jobs have none; unknown jobs are 404.
        #expect(http("GET", "\(base)/jobs/j_nosuchjob000000/metrics").status == 404)
        let sample = http("GET", "\(base)/samples?n=4&wait=false").json["id"]?.string ?? ""
        #expect(http("GET", "\(base)/jobs/\(sample)/metrics").status == 404)
    }
}
