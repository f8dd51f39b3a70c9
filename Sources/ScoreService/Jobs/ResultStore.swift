import Foundation
import HTTPServer
import ScoreEngine
import Synchronization

/// A sampling job's result document: the bytes and how they are encoded.
struct SampleResult: Sendable {
    let bytes: [UInt8]
    /// `json`, `pgm`/`ppm` (gzip-compressed binary PGM/PPM) or `png`.
    let format: String

    /// Whether the bytes are gzip-compressed (PGM and PPM: `Content-Encoding: gzip`).
    static func isGzipped(_ format: String) -> Bool { format == "pgm" || format == "ppm" }

    var fileExtension: String { SampleResult.isGzipped(format) ? "\(format).gz" : format }

    /// The HTTP answer carrying it.
    func response(extraHeaders: [(String, String)] = []) -> HTTPResponse {
        var h = HTTPHeaders()
        h.add("Content-Type", SampleEncoding.mediaType(format))
        if SampleResult.isGzipped(format) { h.add("Content-Encoding", "gzip") }
        for (k, v) in extraHeaders { h.add(k, v) }
        return HTTPResponse(status: 200, headers: h, body: .bytes(bytes))
    }
}

/// Sampling results: written to the artifacts (files, or PostgreSQL's rows) (for `GET /jobs/{id}/result` later) and kept in memory for a
/// while, so that a client waiting on `GET /samples` is answered without reading the file back.
final class ResultStore: Sendable {
    let artifacts: Artifacts
    /// Recent results, newest first, within `memoryBytes` in all.
    private let recent = Mutex<[(id: String, result: SampleResult)]>([])
    let memoryBytes: Int

    init(artifacts: Artifacts, memoryBytes: Int = 256 << 20) {
        self.artifacts = artifacts
        self.memoryBytes = memoryBytes
    }

    /// Keeps a job's result (written under its claim).
    func store(_ result: SampleResult, job id: String, fence: Fence?) throws {
        try artifacts.write(Data(result.bytes), to: artifacts.result(id, result.fileExtension), fence: fence)
        recent.withLock { r in
            r.insert((id, result), at: 0)
            var total = 0
            r = r.filter { total += $0.result.bytes.count; return total <= memoryBytes }
        }
    }

    /// A job's result in `format`, from memory or from its file (nil when it was deleted).
    func result(job id: String, format: String) throws -> SampleResult? {
        if let r = recent.withLock({ r in r.first { $0.id == id }?.result }) { return r }
        let probe = SampleResult(bytes: [], format: format)
        return try artifacts.read(artifacts.result(id, probe.fileExtension)).map { SampleResult(bytes: Array($0), format: format) }
    }

    func remove(job id: String) {
        recent.withLock { $0.removeAll { $0.id == id } }
        for f in SampleEncoding.allFormats { artifacts.remove(artifacts.result(id, SampleResult(bytes: [], format: f).fileExtension)) }
    }
}
