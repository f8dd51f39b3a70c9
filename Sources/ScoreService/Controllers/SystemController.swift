import Foundation
import HTTPServer
import ScoreEngine

/// The page, the OpenAPI description, health and metrics: `GET /`, `/assets/{name}`, `/openapi.json`,
/// `/healthz`, `/metrics`.
struct SystemController: RouteCollection {
    let publicDir: String
    let startedAt: Date
    let metrics: Metrics
    let store: any RecordStore
    let runner: JobRunner
    let connections: @Sendable () -> Int
    let routes: @Sendable () -> [Router.Route]
    /// A worker node's listener: health and metrics only.
    var healthOnly = false

    static let version = "0.2.0"

    func register(on r: Router) {
        r.add("GET", "/healthz", access: .anyone, quick: true) { _, _ in health() }
        r.add("GET", "/metrics") { _, _ in try metricsText() }
        guard !healthOnly else { return }
        r.add("GET", "/", access: .anyone) { req, _ in try staticFile("index.html") }
        r.add("GET", "/assets/{name}", access: .anyone) { _, p in try staticFile(p["name"]!) }
        r.add("GET", "/openapi.json", access: .anyone) { _, _ in jsonResponse(200, try openAPI()) }
    }

    /// The description generated over `public/openapi.json` for the routes and registries of this process.
    func openAPI() throws -> JSONValue {
        let url = URL(fileURLWithPath: publicDir).appendingPathComponent("openapi.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw APIError.notFound("no file openapi.json") }
        return OpenAPIDocument.generate(skeleton: try JSONValue(parsing: Array(data)), routes: routes())
    }

    func health() -> HTTPResponse {
        jsonResponse(200, ["status": "ok", "version": .string(SystemController.version),
                           "uptime_seconds": .number((Date().timeIntervalSince(startedAt) * 10).rounded() / 10)])
    }

    func metricsText() throws -> HTTPResponse {
        let counts = try store.countsByStatus()
        var queued: [Lane: Int] = [:]
        for lane in Lane.allCases {
            queued[lane] = try store.count(status: .queued, kinds: JobKind.allCases.filter { $0.lane == lane })
        }
        let text = metrics.render(jobs: counts, queued: queued, trainingStepsPerSecond: runner.trainingStepsPerSecond,
                                  evaluations: runner.evaluations.counts, connections: connections(), uptime: Date().timeIntervalSince(startedAt))
        return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }

    static let mediaTypes = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                             "css": "text/css; charset=utf-8", "json": "application/json", "png": "image/png",
                             "svg": "image/svg+xml", "ico": "image/x-icon"]

    /// A file of the page's directory (`public_dir`); names are plain file names, nothing else.
    func staticFile(_ name: String) throws -> HTTPResponse {
        guard !name.hasPrefix("."), name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw APIError.notFound("no file \(name)")
        }
        let url = URL(fileURLWithPath: publicDir).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw APIError.notFound("no file \(name)") }
        var h = HTTPHeaders()
        h.add("Content-Type", SystemController.mediaTypes[url.pathExtension.lowercased()] ?? "application/octet-stream")
        h.add("Cache-Control", "no-cache")
        return HTTPResponse(status: 200, headers: h, body: .bytes(Array(data)))
    }
}
