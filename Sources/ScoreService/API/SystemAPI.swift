import Foundation
import HTTPServer
import ScoreEngine

extension Service {
    public static let version = "0.1.0"

    func health() -> HTTPResponse {
        json(200, ["status": "ok", "version": .string(Service.version),
                   "uptime_seconds": .number((Date().timeIntervalSince(startedAt) * 10).rounded() / 10)])
    }

    func metricsText() throws -> HTTPResponse {
        let counts = try store.countsByStatus()
        var queued: [Lane: Int] = [:]
        for lane in Lane.allCases {
            queued[lane] = try store.count(status: .queued, kinds: JobKind.allCases.filter { $0.lane == lane })
        }
        let text = metrics.render(jobs: counts, queued: queued, trainingStepsPerSecond: runner.trainingStepsPerSecond,
                                  connections: server.connectionCount, uptime: Date().timeIntervalSince(startedAt))
        return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }

    static let mediaTypes = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                             "css": "text/css; charset=utf-8", "json": "application/json", "png": "image/png",
                             "svg": "image/svg+xml", "ico": "image/x-icon"]

    /// A file of the page's directory (`public_dir`); names are plain file names, nothing else.
    func staticFile(_ name: String, _ req: HTTPRequest) throws -> HTTPResponse {
        guard !name.hasPrefix("."), name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw APIError.notFound("no file \(name)")
        }
        let url = URL(fileURLWithPath: config.publicDir).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw APIError.notFound("no file \(name)") }
        let ext = url.pathExtension.lowercased()
        var h = HTTPHeaders()
        h.add("Content-Type", Service.mediaTypes[ext] ?? "application/octet-stream")
        h.add("Cache-Control", "no-cache")
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array(data)))
    }
}
