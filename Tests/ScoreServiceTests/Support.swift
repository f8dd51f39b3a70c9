import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ScoreEngine
import ScoreService

/// A service on a free port with its own temporary data directory.
final class Harness: @unchecked Sendable {
    let service: Service
    let dir: URL
    var base: String { "http://127.0.0.1:\(service.port)" }

    init(dataDir: URL? = nil, logger: Logger? = nil, _ edit: (inout ServiceConfig) -> Void = { _ in }) throws {
        dir = dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("scored-test-\(UUID().uuidString)")
        var c = ServiceConfig()
        c.port = 0
        c.dataDir = dir.path
        c.publicDir = Harness.repository.appendingPathComponent("public").path
        c.threads = [.train: 1, .sample: 1]
        c.datasetsDir = Harness.repository.appendingPathComponent("datasets").path
        edit(&c)
        service = try logger.map { try Service(config: c, logger: $0) } ?? Service(config: c)
        try service.start()
    }

    deinit {
        service.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

struct Reply {
    let status: Int
    let headers: [String: String]
    let body: Data
    var json: JSONValue { (try? JSONValue(parsing: Array(body))) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
}

/// Synchronous HTTP through URLSession (a real client: its own parsing, keep-alive, chunked decoding).
func http(_ method: String, _ url: String, body: String? = nil, data: Data? = nil, headers: [String: String] = [:],
          timeout: Double = 60) -> Reply {
    var req = URLRequest(url: URL(string: url)!)
    req.httpMethod = method
    req.timeoutInterval = timeout
    if let body { req.httpBody = Data(body.utf8) }
    if let data { req.httpBody = data }
    for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
    if body != nil && headers["Content-Type"] == nil { req.setValue("application/json", forHTTPHeaderField: "Content-Type") }
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var reply = Reply(status: -1, headers: [:], body: Data())
    URLSession.shared.dataTask(with: req) { data, response, _ in
        let r = response as? HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in r?.allHeaderFields ?? [:] { h["\(k)"] = "\(v)" }
        reply = Reply(status: r?.statusCode ?? -1, headers: h, body: data ?? Data())
        done.signal()
    }.resume()
    done.wait()
    return reply
}

/// Polls a job until it is finished (or the timeout).
func waitForJob(_ base: String, _ id: String, timeout: Double = 120, headers: [String: String] = [:]) -> JSONValue {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let j = http("GET", "\(base)/jobs/\(id)", headers: headers).json
        if let s = j["status"]?.string, ["succeeded", "failed", "canceled"].contains(s) { return j }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return http("GET", "\(base)/jobs/\(id)", headers: headers).json
}
