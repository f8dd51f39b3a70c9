import Foundation
import ScoreEngine
import Testing

/// `public/openapi.json` describes exactly the routes the server answers, and validates as OpenAPI 3.1
/// (openapi-spec-validator from PyPI, which the test script installs).
@Suite struct OpenAPITests {
    static let document = Harness.repository.appendingPathComponent("public/openapi.json")

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteAnswers() throws {
        let h = try Harness()
        let doc = try JSONValue(parsing: Array(Data(contentsOf: Self.document)))
        guard case .object(let paths)? = doc["paths"] else { Issue.record("no paths"); return }
        var documented = Set<String>()
        for (path, item) in paths {
            if case .object(let ops) = item { for m in ops.keys { documented.insert("\(m.uppercased()) \(path)") } }
        }
        let served = Set(h.service.routeTable.map { "\($0.method) \($0.pattern)" })
        #expect(served.subtracting(documented).isEmpty, "undocumented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        // And the server publishes the same file.
        let r = http("GET", "\(h.base)/openapi.json")
        #expect(r.status == 200 && r.json == doc)
    }

    @Test func validatesAsOpenAPI31() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-m", "openapi_spec_validator", Self.document.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0, "openapi-spec-validator: \(text)")
    }
}
