import Foundation
import ScoreEngine
import ScoreService
import Testing

/// `GET /models/{id}/score`: the model's own score at the grid's points (checked against the checkpoint evaluated
/// here), σ(t) by the VE closed form, the data's box by default, and the refusals.
@Suite struct ScoreFieldTests {
    @Test func gridOfTheModelsScore() throws {
        let h = try Harness()
        let base = h.base
        let job = try #require(http("POST", "\(base)/train", body: #"{"dataset": "moons", "steps": 200, "model": {"hidden": [16]}}"#).json["id"]?.string)
        let model = try #require(waitForJob(base, job)["result"]?["model_id"]?.string)
        let r = http("GET", "\(base)/models/\(model)/score?t=0.3&grid=5&box=-2,2,-1,3")
        #expect(r.status == 200, "\(r.text)")
        let f = r.json
        let points = (f["points"]?.array ?? []).map { $0.array?.compactMap(\.number) ?? [] }
        let score = (f["score"]?.array ?? []).map { $0.array?.compactMap(\.number) ?? [] }
        #expect(points.count == 25 && score.count == 25)
        // Rows from y_min up, columns from x_min right.
        #expect(points[0] == [-2, -1] && points[4] == [2, -1] && points[5] == [-2, 0] && points[24] == [2, 3])
        // The model's score at those points and that t, from its checkpoint.
        let data = http("GET", "\(base)/models/\(model)/checkpoint").body
        let m = try ScoreModel.load(checkpoint: data).model
        // σ(t) of the VE SDE's kernel, integrating g² = d[σ_min² (σ_max/σ_min)^{2t}]/dt from 0: σ_min √((σ_max/σ_min)^{2t} − 1).
        let ve = try #require(m.schedule.sde as? VESDE)
        let expected = ve.sigmaMin * (pow(ve.sigmaMax / ve.sigmaMin, 0.6) - 1).squareRoot()
        #expect(abs((f["sigma"]?.number ?? 0) - expected) < 1e-9 * ve.sigmaMax)
        #expect(f["mean_coefficient"] == 1)
        let x = Tensor(shape: [25, 2], scalars: points.flatMap { $0.map(Float.init) })
        let s = evaluateScore(m, x, Array(repeating: 0.3, count: 25), tape: Tape())
        for i in 0..<25 {
            for j in 0..<2 { #expect(abs(Double(s.scalars[2 * i + j]) - score[i][j]) <= 1e-5 * max(1, abs(score[i][j]))) }
        }
        // Without a box: the training data's (2000 points of seed 0), with a 10% margin.
        let d = http("GET", "\(base)/models/\(model)/score").json
        let box = d["box"]?.array?.compactMap(\.number) ?? []
        let pts = (http("GET", "\(base)/datasets/moons/points?n=2000&seed=0").json["points"]?.array ?? []).map { $0.array?.compactMap(\.number) ?? [] }
        let xs = pts.map { $0[0] }, ys = pts.map { $0[1] }
        let (x0, x1, y0, y1) = (xs.min()!, xs.max()!, ys.min()!, ys.max()!)
        let expectedBox = [x0 - 0.1 * (x1 - x0), x1 + 0.1 * (x1 - x0), y0 - 0.1 * (y1 - y0), y1 + 0.1 * (y1 - y0)]
        #expect(box.count == 4 && zip(box, expectedBox).allSatisfy { abs($0 - $1) < 1e-5 }, "\(box) \(expectedBox)")
        #expect(d["t"]?.number == 1e-3 && d["grid"] == 20)
        // Refusals.
        #expect(http("GET", "\(base)/models/\(model)/score?t=0").json["error"]?["field"] == "t")
        #expect(http("GET", "\(base)/models/\(model)/score?t=2e-144").json["error"]?["field"] == "t")  // schemathesis found it: σ(t) ≈ 0
        #expect(http("GET", "\(base)/models/\(model)/score?box=1,0,0,1").json["error"]?["field"] == "box")
        #expect(http("GET", "\(base)/models/\(model)/score?grid=65").json["error"]?["field"] == "grid")
        #expect(http("GET", "\(base)/models/m_nosuchmodel0000/score").status == 404)
        // A wide network: the grid is bounded by its size (about 16.8 M parameters: at most 4 × 4).
        let wide = try #require(http("POST", "\(base)/train", body: #"{"dataset": "moons", "steps": 1, "batch_size": 8, "model": {"hidden": [4096, 4096]}}"#).json["id"]?.string)
        let big = try #require(waitForJob(base, wide)["result"]?["model_id"]?.string)
        let refused = http("GET", "\(base)/models/\(big)/score?grid=20").json
        #expect(refused["error"]?["field"] == "grid" && refused["error"]?["message"]?.string?.contains("at most 4") == true, "\(refused)")
        #expect(http("GET", "\(base)/models/\(big)/score?grid=4").status == 200)
    }
}

/// `GET /datasets/{id}/images`: the first images of a set as a PNG grid, pixel for pixel the set's.
@Suite struct DatasetImagesTests {
    @Test func firstImagesAsAGrid() throws {
        let h = try Harness()
        let r = http("GET", "\(h.base)/datasets/mnist/images?n=4")
        #expect(r.status == 200 && r.header("Content-Type") == "image/png")
        let grid = try PNG.decode(Array(r.body))
        // Two columns of 28 px with 2 px gaps around them.
        #expect(grid.shape == [1, 1, 62, 62], "\(grid.shape)")
        let x = try #require(try BuiltinDatasets.load("mnist", size: 4, seed: 0, directory: URL(fileURLWithPath: h.service.config.datasetsDir)))
        var worst: Float = 0
        for (k, (r0, c0)) in [(2, 2), (2, 32), (32, 2), (32, 32)].enumerated() {
            for y in 0..<28 {
                for xx in 0..<28 {
                    let want = (x.scalars[k * 784 + y * 28 + xx] * 255).rounded() / 255
                    worst = max(worst, abs(grid.scalars[(r0 + y) * 62 + c0 + xx] - want))
                }
            }
        }
        #expect(worst <= 0.5 / 255, "\(worst)")
        #expect(http("GET", "\(h.base)/datasets/swiss_roll/images").status == 409)
        #expect(http("GET", "\(h.base)/datasets/d_nosuchset00000/images").status == 404)
        #expect(http("GET", "\(h.base)/datasets/mnist/images?n=257").json["error"]?["field"] == "n")
    }
}
