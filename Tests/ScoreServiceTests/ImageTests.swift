import Foundation
import ScoreEngine
import ScoreService
import Testing

/// Image models through the API: an uploaded PGM set, a small U-Net trained on it, gzip PGM samples (checked
/// with the standard gzip tool), a tiled grid, inpainting that keeps the known pixels, bits/dim.
@Suite(.serialized) struct ImageTests {
    /// 48 images 20×20: a bright 6×6 square at a random place on black.
    static func squares() -> Tensor {
        var rng = Philox(seed: 4)
        var t = Tensor.zeros([48, 1, 20, 20])
        for k in 0..<48 {
            let x0 = rng.index(below: 14), y0 = rng.index(below: 14)
            for y in y0..<(y0 + 6) { for x in x0..<(x0 + 6) { t.scalars[k * 400 + y * 20 + x] = 1 } }
        }
        return t
    }

    /// The raw bytes of a GET (no transparent decompression), through curl.
    static func raw(_ url: String) throws -> (headers: String, body: Data) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scored-raw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["curl", "-s", "-D", dir.appendingPathComponent("h").path, "-o", dir.appendingPathComponent("b").path, url]
        try p.run()
        p.waitUntilExit()
        return (String(decoding: FileManager.default.contents(atPath: dir.appendingPathComponent("h").path) ?? Data(), as: UTF8.self),
                FileManager.default.contents(atPath: dir.appendingPathComponent("b").path) ?? Data())
    }

    /// `gzip -dc` of some bytes.
    static func gunzip(_ data: Data) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gzip", "-dc"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(data)
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "gzip -dc failed")
        return Array(out)
    }

    @Test func uploadTrainSampleInpaintLikelihood() throws {
        let h = try Harness()
        let base = h.base
        let images = Self.squares()
        // Upload as gzip-compressed multi-image PGM.
        let up = http("POST", "\(base)/datasets?name=squares", data: Data(Gzip.compress(ImageCodec.pgm(images))),
                      headers: ["Content-Type": "application/gzip"])
        #expect(up.status == 201, "\(up.text)")
        #expect(up.json["kind"] == "images" && up.json["count"]?.number == 48)
        let ds = try #require(up.json["id"]?.string)
        #expect(http("GET", "\(base)/datasets/\(ds)/points").status == 409)
        // A broken PGM names the body.
        let bad = http("POST", "\(base)/datasets", data: Data("P5\n20 20\n255\n\u{1}".utf8), headers: ["Content-Type": "image/x-portable-graymap"])
        #expect(bad.status == 400 && bad.json["error"]?["field"] == "body", "\(bad.text)")
        // Point-model fields are refused for images, and image fields for points.
        let wrong = http("POST", "\(base)/train", body: #"{"dataset": "\#(ds)", "model": {"hidden": [8]}}"#)
        #expect(wrong.status == 400 && wrong.json["error"]?["field"] == "model.hidden")
        let wrong2 = http("POST", "\(base)/train", body: #"{"dataset": "moons", "model": {"channels": [8, 8, 8, 8]}}"#)
        #expect(wrong2.status == 400 && wrong2.json["error"]?["field"] == "model.channels")
        #expect(http("POST", "\(base)/train", body: #"{"dataset": "mnist", "objective": "exact"}"#).json["error"]?["field"] == "objective")

        let posted = http("POST", "\(base)/train", body: #"{"dataset": "\#(ds)", "steps": 40, "batch_size": 8, "model": {"channels": [8, 8, 16, 16], "time_features": 16}}"#)
        #expect(posted.status == 202, "\(posted.text)")
        let job = waitForJob(base, try #require(posted.json["id"]?.string))
        #expect(job["status"] == "succeeded", "\(job)")
        let modelID = try #require(job["result"]?["model_id"]?.string)
        let model = http("GET", "\(base)/models/\(modelID)").json
        #expect(model["kind"] == "images")

        // n images as gzip PGM: the standard gzip tool decompresses it, and it parses as P5.
        let (headers, body) = try Self.raw("\(base)/samples?model=\(modelID)&sampler=em&steps=20&n=3&seed=1&format=pgm")
        #expect(headers.lowercased().contains("content-type: image/x-portable-graymap"))
        #expect(headers.lowercased().contains("content-encoding: gzip"))
        let pgm = try Self.gunzip(body)
        #expect(pgm.starts(with: Array("P5\n20 20\n255\n".utf8)))
        let decoded = try ImageCodec.pgm(pgm)
        #expect(decoded.shape == [3, 1, 20, 20])
        // One tiled grid.
        let grid = try ImageCodec.pgm(try Self.gunzip(try Self.raw("\(base)/samples?model=\(modelID)&sampler=ode&solver=euler&steps=10&n=4&format=pgm&grid=1").body))
        #expect(grid.shape == [1, 1, 2 * 20 + 3 * 2, 2 * 20 + 3 * 2])
        #expect(http("GET", "\(base)/samples?model=\(modelID)&n=2&grid=1&format=json").json["error"]?["field"] == "grid")

        // Inpainting the right half of a square image: the left half is kept exactly.
        let source = images.rows(0..<1)
        let inp = http("POST", "\(base)/inpaint?model=\(modelID)&rect=10,0,10,20&n=2&steps=20&seed=2&format=json",
                       data: Data(ImageCodec.pgm(source)), headers: ["Content-Type": "image/x-portable-graymap"])
        #expect(inp.status == 200, "\(inp.text)")
        let rows = inp.json["points"]?.array ?? []
        #expect(rows.count == 2)
        for r in rows {
            let v = r.array?.compactMap(\.number) ?? []
            #expect(v.count == 400)
            for y in 0..<20 { for x in 0..<10 {
                #expect(abs(v[y * 20 + x] - Double(source.scalars[y * 20 + x])) < 1e-6)
            } }
        }
        // A mask image instead of a rectangle; and the errors.
        var mask = Tensor.ones([1, 1, 20, 20])
        for i in 0..<200 { mask.scalars[i] = 0 }
        let both = Data(ImageCodec.pgm(source) + ImageCodec.pgm(mask))
        #expect(http("POST", "\(base)/inpaint?model=\(modelID)&n=1&steps=5", data: both).status == 200)
        #expect(http("POST", "\(base)/inpaint?model=\(modelID)&n=1", data: Data(ImageCodec.pgm(source))).json["error"]?["field"] == "rect")
        #expect(http("POST", "\(base)/inpaint?model=\(modelID)&rect=15,0,10,20", data: Data(ImageCodec.pgm(source))).json["error"]?["field"] == "rect")
        // The ODE and the fast samplers inpaint too (the known pixels on their perturbation path), keeping them exactly.
        for query in ["sampler=ode&solver=euler&steps=10", "sampler=dpm_solver&steps=10", "sampler=ddim&steps=10", "sampler=heun&steps=9"] {
            let r = http("POST", "\(base)/inpaint?model=\(modelID)&rect=1,1,2,2&\(query)&n=2&format=json", data: Data(ImageCodec.pgm(source)))
            #expect(r.status == 200 && r.json["sampler"] == .string(String(query.split(separator: "&")[0].dropFirst(8))), "\(query): \(r.text.prefix(200))")
            let filled = (r.json["points"]?.array ?? []).map { $0.array!.map { Float($0.number!) } }
            #expect(filled.count == 2 && filled.allSatisfy { row in (0..<400).allSatisfy { p in (1...2).contains(p / 20) && (1...2).contains(p % 20) || row[p] == source.scalars[p] } }, "\(query)")
        }

        // bits/dim with dequantisation.
        let lk = http("POST", "\(base)/likelihood", body: #"{"model": "\#(modelID)", "n": 4, "rtol": 1e-3, "atol": 1e-3}"#)
        #expect(lk.status == 202, "\(lk.text)")
        let lj = waitForJob(base, try #require(lk.json["id"]?.string))
        #expect(lj["status"] == "succeeded", "\(lj)")
        #expect(lj["result"]?["dequantized"] == true && lj["result"]?["divergence"] == "hutchinson")
        #expect((lj["result"]?["bits_per_dim"]?.number ?? .nan).isFinite)
    }
}
