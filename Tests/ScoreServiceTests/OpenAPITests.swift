import Foundation
import ScoreEngine
import ScoreService
import Testing

/// The OpenAPI description: `public/openapi.json` is what the service generates from its routes and registries
/// (so a field, a route or a sampler added in one place and not the others fails here), it validates as OpenAPI
/// 3.1, and a sampler added through the registry alone is validated, reachable over HTTP, documented and listed
/// among a model's samplers.
@Suite(.serialized) struct OpenAPITests {
    static let document = Harness.repository.appendingPathComponent("public/openapi.json")

    @Test func committedDescriptionIsTheGeneratedOne() throws {
        let h = try Harness()
        let committed = try JSONValue(parsing: Array(Data(contentsOf: Self.document)))
        let generated = h.service.openAPIDocument(skeleton: committed)
        #expect(generated == committed, "public/openapi.json is out of date (first difference at \(Self.difference(generated, committed) ?? "?")): run `scored openapi --write`")
        guard let paths = committed["paths"]?.object else { Issue.record("no paths"); return }
        var documented = Set<String>()
        for (path, item) in paths {
            for m in item.object?.keys ?? [:].keys { documented.insert("\(m.uppercased()) \(path)") }
        }
        let served = Set(h.service.routeTable.map { "\($0.method) \($0.pattern)" })
        #expect(served.subtracting(documented).isEmpty, "undocumented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        // The served document is the generated one.
        #expect(http("GET", "\(h.base)/openapi.json").json == generated)
        // The generated parts follow the declarations.
        let samples = paths["/samples"]?["get"]?["parameters"]?.array ?? []
        #expect(samples.first { $0["name"] == "sampler" }?["schema"]?["enum"] == .array(SamplerRegistry.names.map { .string($0) }))
        #expect(committed["components"]?["schemas"]?["TrainRequest"]?["properties"]?["model"]?["properties"]?["hidden"]?["maxItems"] == 16)
        // The routes that take an Idempotency-Key document it, and only those.
        for route in h.service.routeTable {
            let ps = paths[route.pattern]?[route.method.lowercased()]?["parameters"]?.array ?? []
            #expect(ps.contains { $0["name"] == "Idempotency-Key" && $0["in"] == "header" } == route.idempotent, "\(route.method) \(route.pattern)")
        }
    }

    /// The path of the first place two documents differ.
    static func difference(_ a: JSONValue, _ b: JSONValue, _ path: String = "") -> String? {
        if a == b { return nil }
        if let x = a.object, let y = b.object {
            for k in Set(x.keys).union(y.keys).sorted() {
                guard let u = x[k], let v = y[k] else { return "\(path)/\(k) (only in one)" }
                if let d = difference(u, v, "\(path)/\(k)") { return d }
            }
        }
        if let x = a.array, let y = b.array, x.count == y.count {
            for (i, (u, v)) in zip(x, y).enumerated() { if let d = difference(u, v, "\(path)/\(i)") { return d } }
        }
        return path
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

    /// A throwaway sampler, one entry registered from the test target: it is listed, documented, validated and
    /// sampled over HTTP like the built-in ones.
    @Test func samplerAddedThroughTheRegistryAlone() throws {
        struct Origin: Sampler {
            let scale: Float
            func sample(_ score: any ScoreFunction, shape: [Int], first: Int, count: Int, seed: UInt64, control: SamplingControl?) throws -> SampleBatch {
                var streams = RowStreams(seed: seed, first: first, count: count)
                return SampleBatch(x: streams.gaussian([count] + shape) * scale, nfe: 0)
            }
        }
        SamplerRegistry.register(SamplerEntry(
            name: "origin_test", summary: "Gaussian noise around the origin (a test's sampler)", families: [.sde],
            parameters: [Parameter("spread", .number(.above(0, upTo: 2)), default: .value(1), help: "standard deviation")],
            make: { v, _ in Origin(scale: Float(v.double("spread"))) }))
        defer { SamplerRegistry.unregister("origin_test") }
        let h = try Harness()
        let base = h.base
        let job = waitForJob(base, try #require(http("POST", "\(base)/train", body: #"{"steps": 20, "model": {"hidden": [8]}}"#).json["id"]?.string))
        let modelID = try #require(job["result"]?["model_id"]?.string)
        let model = http("GET", "\(base)/models/\(modelID)").json
        #expect(model["samplers"]?.array?.contains("origin_test") == true)
        #expect(model["sampler_defaults"]?["origin_test"] == ["spread": 1])
        let listed = http("GET", "\(base)/samplers").json["samplers"]?.array ?? []
        #expect(listed.contains { $0["name"] == "origin_test" && $0["parameters"]?.array?.first?["key"] == "spread" })
        let doc = http("GET", "\(base)/openapi.json").json
        let params = doc["paths"]?["/samples"]?["get"]?["parameters"]?.array ?? []
        #expect(params.first { $0["name"] == "sampler" }?["schema"]?["enum"]?.array?.contains("origin_test") == true)
        #expect(params.contains { $0["name"] == "spread" })
        let r = http("GET", "\(base)/samples?model=\(modelID)&sampler=origin_test&spread=0.5&n=2000&seed=3")
        #expect(r.status == 200 && r.json["sampler"] == "origin_test" && r.json["parameters"] == ["spread": 0.5])
        let xs = (r.json["points"]?.array ?? []).compactMap { $0.array?[0].number }
        let sd = (xs.map { $0 * $0 }.reduce(0, +) / Double(xs.count)).squareRoot()
        // The standard deviation of 2000 draws of N(0, 0.5²) is within 5 standard errors (0.5/√4000 each) of 0.5.
        #expect(xs.count == 2000 && abs(sd - 0.5) < 5 * 0.5 / (2.0 * 2000).squareRoot(), "sd \(sd)")
        #expect(http("GET", "\(base)/samples?model=\(modelID)&sampler=origin_test&spread=3").json["error"]?["field"] == "spread")
        #expect(http("GET", "\(base)/samples?model=\(modelID)&sampler=pc&spread=1").json["error"]?["message"] == "spread: does not apply to sampler pc")
    }
}
