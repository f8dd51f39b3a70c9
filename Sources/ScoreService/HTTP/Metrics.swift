import Foundation
import ScoreEngine
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Counters and histograms for `GET /metrics` (Prometheus text format 0.0.4). Gauges (jobs by state, queue
/// depth, training rate, connections) are read when scraped.
final class Metrics: Sendable {
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Histogram {
        var counts = [Int](repeating: 0, count: Metrics.buckets.count + 1)
        var sum = 0.0
        var count = 0
    }

    private struct State {
        var requests: [String: Int] = [:]  // "route\u{0}method\u{0}status"
        var latency: [String: Histogram] = [:]
        var jobsFinished: [String: Int] = [:]  // "kind\u{0}status"
    }

    /// Request counts are kept in shards picked by thread, so that connection threads rarely wait on one
    /// another under many connections; scrapes merge them.
    private static let shardCount = 8
    private final class Shard: Sendable { let state = Mutex(State()) }
    private let shards = (0..<Metrics.shardCount).map { _ in Shard() }
    private let state = Mutex(State())

    func request(route: String, method: String, status: Int, seconds: Double) {
        let key = "\(route)\u{0}\(method)\u{0}\(status)"
        let i = Metrics.buckets.firstIndex { seconds <= $0 } ?? Metrics.buckets.count
        // pthread_t is the thread's control block address: drop its aligned low bits.
        let shard = Int((UInt(pthread_self()) >> 12) % UInt(Metrics.shardCount))
        shards[shard].state.withLock { s in
            s.requests[key, default: 0] += 1
            var h = s.latency[route] ?? Histogram()
            h.counts[i] += 1
            h.sum += seconds
            h.count += 1
            s.latency[route] = h
        }
    }

    func jobFinished(kind: JobKind, status: JobStatus) {
        state.withLock { $0.jobsFinished["\(kind.rawValue)\u{0}\(status.rawValue)", default: 0] += 1 }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The exposition, with gauges given by the caller.
    func render(jobs: [JobStatus: Int], queued: [Lane: Int], trainingStepsPerSecond: Double, evaluations: SharedEvaluations.Counts,
                connections: Int, uptime: Double) -> String {
        var s = state.withLock { $0 }
        for shard in shards {
            let part = shard.state.withLock { $0 }
            for (k, v) in part.requests { s.requests[k, default: 0] += v }
            for (k, h) in part.latency {
                var m = s.latency[k] ?? Histogram()
                for b in 0..<m.counts.count { m.counts[b] += h.counts[b] }
                m.sum += h.sum
                m.count += h.count
                s.latency[k] = m
            }
        }
        var out = ""
        out += "# HELP scored_http_requests_total HTTP requests by route, method and status.\n# TYPE scored_http_requests_total counter\n"
        for (k, v) in s.requests.sorted(by: { $0.key < $1.key }) {
            let p = k.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            out += "scored_http_requests_total{route=\"\(Metrics.escape(p[0]))\",method=\"\(p[1])\",status=\"\(p[2])\"} \(v)\n"
        }
        out += "# HELP scored_http_request_duration_seconds Time to answer a request (until the response is ready).\n"
        out += "# TYPE scored_http_request_duration_seconds histogram\n"
        for (route, h) in s.latency.sorted(by: { $0.key < $1.key }) {
            let r = Metrics.escape(route)
            var cumulative = 0
            for (i, b) in Metrics.buckets.enumerated() {
                cumulative += h.counts[i]
                out += "scored_http_request_duration_seconds_bucket{route=\"\(r)\",le=\"\(b)\"} \(cumulative)\n"
            }
            out += "scored_http_request_duration_seconds_bucket{route=\"\(r)\",le=\"+Inf\"} \(h.count)\n"
            out += "scored_http_request_duration_seconds_sum{route=\"\(r)\"} \(h.sum)\n"
            out += "scored_http_request_duration_seconds_count{route=\"\(r)\"} \(h.count)\n"
        }
        out += "# HELP scored_jobs Jobs by state.\n# TYPE scored_jobs gauge\n"
        for st in JobStatus.allCases { out += "scored_jobs{state=\"\(st.rawValue)\"} \(jobs[st] ?? 0)\n" }
        out += "# HELP scored_queue_depth Queued jobs by lane.\n# TYPE scored_queue_depth gauge\n"
        for l in Lane.allCases { out += "scored_queue_depth{lane=\"\(l.rawValue)\"} \(queued[l] ?? 0)\n" }
        out += "# HELP scored_jobs_finished_total Jobs finished since start by kind and outcome.\n# TYPE scored_jobs_finished_total counter\n"
        for (k, v) in s.jobsFinished.sorted(by: { $0.key < $1.key }) {
            let p = k.split(separator: "\u{0}").map(String.init)
            out += "scored_jobs_finished_total{kind=\"\(p[0])\",status=\"\(p[1])\"} \(v)\n"
        }
        out += "# HELP scored_training_steps_per_second Training steps per second of the running jobs.\n# TYPE scored_training_steps_per_second gauge\n"
        out += "scored_training_steps_per_second \(trainingStepsPerSecond)\n"
        out += "# HELP scored_sample_evaluations_total Batches evaluated by the sampling lane's shared evaluations (a job's first evaluations, and those of jobs whose evaluations take under 0.2 ms, go direct).\n"
        out += "# TYPE scored_sample_evaluations_total counter\n"
        out += "scored_sample_evaluations_total \(evaluations.batches)\n"
        out += "# HELP scored_sample_evaluation_requests_total Evaluation requests (one per chunk and evaluation) served by those batches (more than the batches when requests were batched).\n"
        out += "# TYPE scored_sample_evaluation_requests_total counter\n"
        out += "scored_sample_evaluation_requests_total \(evaluations.requests)\n"
        out += "# HELP scored_sample_shared_evaluations_total Evaluations batched from the requests of more than one job.\n"
        out += "# TYPE scored_sample_shared_evaluations_total counter\n"
        out += "scored_sample_shared_evaluations_total \(evaluations.sharedBatches)\n"
        out += "# HELP scored_open_connections Open HTTP connections.\n# TYPE scored_open_connections gauge\n"
        out += "scored_open_connections \(connections)\n"
        out += "# HELP scored_uptime_seconds Seconds since the service started.\n# TYPE scored_uptime_seconds gauge\n"
        out += "scored_uptime_seconds \(uptime)\n"
        return out
    }
}
