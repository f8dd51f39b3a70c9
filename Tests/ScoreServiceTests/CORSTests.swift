import Foundation
import ScoreEngine
import ScoreService
import Testing

/// Cross-origin requests: none allowed by default; for a configured origin, preflights answered with the
/// route's methods and the allowed headers, other origins, methods and headers refused, answers labelled.
@Suite(.serialized) struct CORSTests {
    static let preflight = ["Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                            "Access-Control-Request-Headers": "Content-Type, Idempotency-Key"]

    @Test func noOriginsByDefault() throws {
        let h = try Harness()
        let r = http("OPTIONS", "\(h.base)/train", headers: Self.preflight)
        #expect(r.status == 405 && r.header("Access-Control-Allow-Origin") == nil)
        #expect(http("GET", "\(h.base)/healthz", headers: ["Origin": "https://app.example"]).header("Access-Control-Allow-Origin") == nil)
    }

    @Test func configuredOrigins() throws {
        let h = try Harness { $0.corsAllowedOrigins = ["https://app.example"] }
        let base = h.base
        let ok = http("OPTIONS", "\(base)/train", headers: Self.preflight)
        #expect(ok.status == 204, "\(ok.text)")
        #expect(ok.header("Access-Control-Allow-Origin") == "https://app.example")
        #expect(ok.header("Access-Control-Allow-Methods") == "POST")
        #expect(ok.header("Access-Control-Allow-Headers") == "content-type, idempotency-key")
        #expect(ok.header("Access-Control-Max-Age") == "600")
        let jobs = http("OPTIONS", "\(base)/jobs/j_x", headers: ["Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"])
        #expect(jobs.status == 204 && jobs.header("Access-Control-Allow-Methods") == "DELETE, GET, HEAD")
        var other = Self.preflight
        other["Origin"] = "https://evil.example"
        #expect(http("OPTIONS", "\(base)/train", headers: other).status == 403)
        var method = Self.preflight
        method["Access-Control-Request-Method"] = "DELETE"
        #expect(http("OPTIONS", "\(base)/train", headers: method).status == 403)
        var header = Self.preflight
        header["Access-Control-Request-Headers"] = "X-Custom"
        #expect(http("OPTIONS", "\(base)/train", headers: header).status == 403)
        // Answers to the allowed origin name it and expose the API's headers; others are not labelled.
        let get = http("GET", "\(base)/healthz", headers: ["Origin": "https://app.example"])
        #expect(get.status == 200 && get.header("Access-Control-Allow-Origin") == "https://app.example")
        #expect(get.header("Access-Control-Expose-Headers")?.contains("X-Job-Id") == true && get.header("Vary")?.contains("Origin") == true)
        #expect(http("GET", "\(base)/healthz", headers: ["Origin": "https://evil.example"]).header("Access-Control-Allow-Origin") == nil)
        // Errors carry the label too, so that the page can read them.
        let bad = http("POST", "\(base)/train", body: #"{"steps": -1}"#, headers: ["Origin": "https://app.example"])
        #expect(bad.status == 400 && bad.header("Access-Control-Allow-Origin") == "https://app.example")
    }

    @Test func originsAreValidated() {
        var c = ServiceConfig()
        #expect(throws: ServiceConfig.Invalid.self) { try c.apply(json: ["cors": ["allowed_origins": ["https://app.example/path"]]], source: "test") }
        #expect(throws: ServiceConfig.Invalid.self) { try c.apply(json: ["cors": ["allowed_origins": ["app.example"]]], source: "test") }
        #expect(throws: Never.self) { try c.apply(json: ["cors": ["allowed_origins": ["https://app.example:8443", "*"]]], source: "test") }
        #expect(c.corsAllowedOrigins == ["https://app.example:8443", "*"])
        #expect(throws: Never.self) { try c.apply(environment: ["SCORED_CORS_ALLOWED_ORIGINS": "http://localhost:3000,https://a.example"]) }
        #expect(c.corsAllowedOrigins == ["http://localhost:3000", "https://a.example"])
    }
}
