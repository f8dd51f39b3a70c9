import Foundation
import HTTPServer
import ScoreEngine

/// The groups of rows of a streamed sampling job, handed over as they finish to the response that streams
/// them (`GET /samples?stream=true`), then the run's summary or its failure.
final class SampleStream: @unchecked Sendable {
    private let lock = NSLock()
    private var groups: [(rows: Range<Int>, x: Tensor)] = []
    private var end: Result<[String: JSONValue], Error>? = nil
    private let wakeups: Wakeups<Int>

    init() { wakeups = Wakeups(lock: lock) }

    func push(_ rows: Range<Int>, _ x: Tensor) {
        lock.lock()
        groups.append((rows, x))
        lock.unlock()
        wakeups.wake(0)
    }

    func finish(_ result: Result<[String: JSONValue], Error>) {
        lock.lock()
        if end == nil { end = result }
        lock.unlock()
        wakeups.wake(0)
    }

    /// The groups after the first `taken`, and the end if it came; waits (suspended) up to `timeout` for either.
    func next(after taken: Int, timeout: Double) async -> (groups: [(rows: Range<Int>, x: Tensor)], end: Result<[String: JSONValue], Error>?) {
        await wakeups.wait(0, timeout: timeout) { [unowned self] in groups.count > taken || end != nil }
        return lock.withLock { (Array(groups[min(taken, groups.count)...]), groups.count > taken ? nil : end) }
    }
}

/// How a streamed answer frames its groups: NDJSON for JSON (one `{"first": i, "points": […]}` line per group,
/// then `{"done": true, …the run's summary…}`), and for images a `multipart/mixed` body with one part per group
/// (PGM/PPM: the group's images back to back; PNG: the group's grid; `X-First-Row` names its first row) and a
/// last JSON part with the summary.
enum StreamFraming {
    static let boundary = "scored-samples"

    static func contentType(_ format: String) -> String {
        SampleEncoding.isImage(format) ? "multipart/mixed; boundary=\(boundary)" : "application/x-ndjson"
    }

    static func group(_ rows: Range<Int>, _ x: Tensor, format: String) throws -> [UInt8] {
        if SampleEncoding.isImage(format) {
            return Array("--\(boundary)\r\nContent-Type: \(SampleEncoding.mediaType(format))\r\nX-First-Row: \(rows.lowerBound)\r\n\r\n".utf8)
                + (try SampleEncoding.image(x, format: format, grid: false)) + Array("\r\n".utf8)
        }
        return SampleEncoding.json(x, header: ["first": .number(Double(rows.lowerBound))])
    }

    static func summary(_ header: [String: JSONValue], format: String) -> [UInt8] {
        var o = header
        o["done"] = true
        let line = JSONValue.object(o).serialized + "\n"
        if SampleEncoding.isImage(format) {
            return Array("--\(boundary)\r\nContent-Type: application/json\r\n\r\n\(line)\r\n--\(boundary)--\r\n".utf8)
        }
        return Array(line.utf8)
    }

    static func failure(_ code: String, _ message: String, format: String) -> [UInt8] {
        let line = JSONValue.object(["error": ["code": .string(code), "message": .string(message)]]).serialized + "\n"
        if SampleEncoding.isImage(format) {
            return Array("--\(boundary)\r\nContent-Type: application/json\r\n\r\n\(line)\r\n--\(boundary)--\r\n".utf8)
        }
        return Array(line.utf8)
    }
}
