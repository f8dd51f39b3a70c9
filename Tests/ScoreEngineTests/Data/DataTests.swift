import Foundation
import ScoreEngine
import Testing

@Suite struct DataTests {
    @Test func jsonParsesStrictly() throws {
        #expect(try JSONValue(parsing: #"{"a": [1, 2.5e1, -0.5], "b": true, "c": null, "d": "x\u00e9\n"}"#)
                == ["a": [1, 25, -0.5], "b": true, "c": nil, "d": "xé\n"])
        for bad in ["{\"a\":1,}", "[1 2]", "01", "{\"a\":1, \"a\":2}", "NaN", "[1]x", "\"\\x\"", "{'a':1}", "",
                    String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "\"\\ud800\""] {
            #expect(throws: JSONValue.ParseError.self, "\(bad)") { try JSONValue(parsing: bad) }
        }
        let v: JSONValue = ["k": [1, 1.5, "q\"", false, nil]]
        #expect(try JSONValue(parsing: v.serialized) == v)
    }

    @Test func pointCloudsAreValidated() throws {
        let t = try PointCloud.parseJSON(Array(#"{"points": [[1, 2], [3, 4.5]]}"#.utf8))
        #expect(t == Tensor(rows: [[1, 2], [3, 4.5]]))
        #expect(try PointCloud.parseCSV("x,y\n1,2\n3, 4.5\n") == t)
        #expect(try PointCloud.parseJSON(Array(PointCloud.json(t).utf8)) == t)
        for bad in [#"{"points": [[1, 2], [3]]}"#, #"[[1, true]]"#, #"[[1, 1e999]]"#, #"{"pts": []}"#, "[]", "[[]]"] {
            #expect(throws: PointCloud.Invalid.self, "\(bad)") { try PointCloud.parseJSON(Array(bad.utf8)) }
        }
        #expect(throws: PointCloud.Invalid.self) { try PointCloud.parseCSV("1,2\n3,x\n") }
        #expect(throws: PointCloud.Invalid.self) {
            try PointCloud.parseJSON(Array("[[1],[2],[3]]".utf8), limits: .init(maxPoints: 2))
        }
    }

    @Test func safetensorsRoundTripAndRejection() throws {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]), b = Tensor(3.5)
        let data = Safetensors.write([("a", a), ("b.c", b)], metadata: ["k": "v"])
        let f = try Safetensors.read(data)
        #expect(f["a"] == a && f["b.c"] == b && f.metadata == ["k": "v"] && f.order == ["a", "b.c"])
        #expect(throws: Safetensors.Error.self) { try Safetensors.read(data.prefix(20)) }
        #expect(throws: Safetensors.Error.self) { try Safetensors.read(Data([255, 255, 255, 255, 0, 0, 0, 0])) }
    }

    /// Generators are seeded, and their draws have the documented scale.
    @Test func toyDataSets() {
        for d in Toy2D.allCases {
            var r1 = Philox(seed: 1), r2 = Philox(seed: 1)
            let a = d.sample(3000, rng: &r1)
            #expect(a == d.sample(3000, rng: &r2))
            #expect(a.isFinite && a.shape == [3000, 2])
        }
        var rng = Philox(seed: 2)
        let donut = Toy2D.donut.sample(4000, rng: &rng)
        let radii = (0..<4000).map { i in Double(hypot(donut.scalars[2 * i], donut.scalars[2 * i + 1])) }
        let mean = radii.reduce(0, +) / 4000
        // Radial density ∝ r·exp(−(r − 2.6)²/0.033): mean 2.6 + s²/2.6 with s² = 0.0165, se ≈ 0.002.
        #expect(abs(mean - (2.6 + 0.0165 / 2.6)) < 0.01)
    }

    /// Energy distance is 0 for a cloud against itself; sliced W₁ of a shift by v is |v|·E|cos θ| = 2|v|/π.
    @Test func sampleQualityClosedForms() {
        var rng = Philox(seed: 3)
        let x = rng.gaussian([500, 2])
        #expect(abs(SampleQuality.energyDistance(x, x)) < 1e-9)
        let shifted = x + Tensor(shape: [2], scalars: [0.3, 0.4])
        let w = SampleQuality.slicedWasserstein1(shifted, x, projections: 2000)
        #expect(abs(w - 0.5 * 2 / Double.pi) < 0.01)
        #expect(SampleQuality.energyDistance(shifted, x) > 0.05)
    }

    /// gzip fed in pieces of any size decompresses to the original: two members made by the `gzip` command, then
    /// zero padding; cut short, it is refused as ending early; past the limit, as too large.
    @Test func inflaterTakesBytesInAnyPieces() throws {
        var rng = SystemRandomNumberGenerator()
        let a = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 / 7 &* 31) }
        let b = Array("a second member\n".utf8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inflate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var gz: [UInt8] = []
        for (name, bytes) in [("a", a), ("b", b)] {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "gzip -9 '\(url.path)'"]
            try p.run()
            p.waitUntilExit()
            gz += [UInt8](try Data(contentsOf: url.appendingPathExtension("gz")))
        }
        gz += [0, 0, 0, 0]
        for _ in 0..<20 {
            let inflater = Gzip.Inflater()
            var i = 0
            while i < gz.count {
                let n = min(gz.count - i, Int.random(in: 1...40_000, using: &rng))
                try gz[i..<(i + n)].withUnsafeBytes { try inflater.feed($0) }
                i += n
            }
            #expect(try inflater.finish() == a + b)
        }
        #expect(try Gzip.decompress(gz) == a + b)
        let cut = Gzip.Inflater()
        try gz[0..<1000].withUnsafeBytes { try cut.feed($0) }
        #expect(throws: Gzip.Failure.self) { try cut.finish() }
        let small = Gzip.Inflater(limit: 100_000)
        #expect(throws: Gzip.TooLarge.self) { try gz.withUnsafeBytes { try small.feed($0) } }
        let trailing = Gzip.Inflater()
        #expect(throws: Gzip.Failure.self) { try (gz + [0, 9]).withUnsafeBytes { try trailing.feed($0) } }
    }
}
