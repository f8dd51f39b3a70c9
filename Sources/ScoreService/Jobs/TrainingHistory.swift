import Foundation
import ScoreEngine

/// A training job's series — loss, learning rate, steps per second against the step — as its progress reports
/// come (a few a second), bounded: every `stride`-th report is kept, and when more than 2 × `capacity` are kept,
/// every other one is dropped and the stride doubles, so the series spans the whole run at an even spacing with
/// between `capacity` and 2 × `capacity` points, plus the latest report. Saved beside the training state and at
/// the end (`Artifacts.history`), so that it survives reloads and restarts (`GET /jobs/{id}/metrics`).
public struct TrainingHistory: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var step: Int
        public var loss: Double
        public var learningRate: Double
        public var stepsPerSecond: Double?
        /// Seconds since the job first started.
        public var seconds: Double

        public init(step: Int, loss: Double, learningRate: Double, stepsPerSecond: Double?, seconds: Double) {
            self.step = step
            self.loss = loss
            self.learningRate = learningRate
            self.stepsPerSecond = stepsPerSecond
            self.seconds = seconds
        }
    }

    public static let capacity = 500
    public private(set) var points: [Point] = []
    public private(set) var stride = 1
    public private(set) var reports = 0
    public private(set) var latest: Point?

    public mutating func add(_ p: Point) {
        defer { reports += 1 }
        latest = p
        guard reports % stride == 0 else { return }
        points.append(p)
        if points.count > 2 * TrainingHistory.capacity {
            points = Swift.stride(from: 0, to: points.count, by: 2).map { points[$0] }
            stride *= 2
        }
    }

    /// The kept points and the latest report.
    public var series: [Point] {
        guard let latest, latest != points.last else { return points }
        return points + [latest]
    }

    /// The series as the API serves it: columns of equal length.
    public var json: JSONValue {
        var o = TrainingHistory.columns(series).object ?? [:]
        o["points"] = .number(Double(series.count))
        o["stride"] = .number(Double(stride))
        return .object(o)
    }

    static func columns(_ s: [Point]) -> JSONValue {
        func column(_ f: (Point) -> Double?) -> JSONValue { .array(s.map { f($0).map { .number($0) } ?? .null }) }
        return ["step": column { Double($0.step) }, "loss": column { $0.loss }, "learning_rate": column { $0.learningRate },
                "steps_per_second": column { $0.stepsPerSecond.map { ($0 * 10).rounded() / 10 } },
                "seconds": column { ($0.seconds * 100).rounded() / 100 }]
    }

    static func points(_ v: JSONValue?) -> [Point]? {
        guard let v, let steps = v["step"]?.array, let loss = v["loss"]?.array, let lr = v["learning_rate"]?.array,
              let rate = v["steps_per_second"]?.array, let secs = v["seconds"]?.array,
              [loss.count, lr.count, rate.count, secs.count].allSatisfy({ $0 == steps.count }) else { return nil }
        var out: [Point] = []
        for i in steps.indices {
            guard let s = steps[i].number, abs(s) < 1e15, let l = loss[i].number, let r = lr[i].number, let t = secs[i].number else { return nil }
            out.append(Point(step: Int(s), loss: l, learningRate: r, stepsPerSecond: rate[i].number, seconds: t))
        }
        return out
    }

    /// What is saved: the kept points, the latest report and the counters, to go on from after a restart.
    public var stored: JSONValue {
        ["stride": .number(Double(stride)), "reports": .number(Double(reports)), "kept": TrainingHistory.columns(points),
         "latest": TrainingHistory.columns(latest.map { [$0] } ?? [])]
    }

    public init?(stored v: JSONValue) {
        guard let kept = TrainingHistory.points(v["kept"]), let latest = TrainingHistory.points(v["latest"]), latest.count <= 1,
              let stride = v["stride"]?.number, stride >= 1, stride < 1e9, stride == stride.rounded(),
              let reports = v["reports"]?.number, reports >= 0, reports < 1e15, reports == reports.rounded() else { return nil }
        self.points = kept
        self.latest = latest.first
        self.stride = Int(stride)
        self.reports = Int(reports)
    }

    public init() {}
}
