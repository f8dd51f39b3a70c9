import Foundation
import ScoreEngine
import ScoreService
import Testing

/// A data directory written by the release before schema versions (`Fixtures/datadir-v0`: made by that
/// release's `scored serve`, with jobs of every kind and state, four models, an upload, results, and a training
/// job interrupted by SIGTERM with its saved state) opens after the upgrade with its jobs and models intact,
/// and the interrupted job resumes to exactly the model an uninterrupted run gives.
@Suite(.serialized) struct MigrationTests {
    static let fixture = Harness.repository.appendingPathComponent("Tests/ScoreServiceTests/Fixtures/datadir-v0")

    static func copy() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scored-migration-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixture, to: dir)
        return dir
    }

    @Test func schemaUpgradesInPlace() throws {
        let dir = try Self.copy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStore(path: dir.appendingPathComponent("store.db").path)
        #expect(try store.schemaVersion == 5)
        let jobs = try store.jobs(status: nil, kind: nil, limit: 100)
        #expect(jobs.count == 11)
        #expect(Dictionary(grouping: jobs, by: \.status).mapValues(\.count) == [.succeeded: 7, .queued: 4])
        // The flat recipe became the request's shape, with only the fields that apply.
        let ncsn = try #require(jobs.first { $0.params["objective"] == "ncsn" })
        #expect(ncsn.params["model"]?["hidden"] == [8] && ncsn.params["levels"] == 10 && ncsn.params["sde"] == nil && ncsn.params["hidden"] == nil)
        let mnist = try #require(jobs.first { $0.params["dataset"] == "mnist" })
        #expect(mnist.params["model"]?["channels"] == [4, 8, 8, 8] && mnist.params["model"]?["hidden"] == nil && mnist.params["dataset_size"] == nil)
        let sampled = try #require(jobs.first { $0.id == "j_stdqnbsfi8u7b5" })
        #expect(sampled.params["sampler"] == "pc" && sampled.params["parameters"] == ["steps": 20])
        // Models: tagged architecture and perturbation, the recipe in the request's shape.
        let models = try store.models(limit: 10)
        #expect(models.count == 4)
        for m in models {
            #expect(m.info["architecture"]?["type"]?.string != nil && m.info["perturbation"]?["type"]?.string != nil, "\(m.id)")
            #expect(m.info["parameter_count"]?.number != nil && m.info["sampler_defaults"] == nil)
        }
        let uploads = try store.datasets()
        #expect(uploads.map(\.kind) == [.points] && uploads.first?.count == 3)
        // Opening again changes nothing.
        let again = try SQLiteStore(path: dir.appendingPathComponent("store.db").path)
        #expect(try again.jobs(status: nil, kind: nil, limit: 100) == jobs)
    }

    @Test func upgradedDirectoryServes() throws {
        let dir = try Self.copy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let h = try Harness(dataDir: dir)
        let base = h.base
        // Every model is listed, shown with its samplers, and its first-format checkpoint downloads and loads.
        let models = http("GET", "\(base)/models").json["models"]?.array ?? []
        #expect(models.count >= 4)
        let swiss = try #require(models.first { $0["id"] == "m_8wd4mg7kkvd2zh" })
        #expect(swiss["default_sampler"] == "dpm_solver" && swiss["sampler_defaults"]?["pc"]?["steps"] == 500)
        let ckpt = http("GET", "\(base)/models/m_xm9fu2gruhf3pj/checkpoint")
        #expect(ckpt.status == 200 && (try? ScoreModel.load(checkpoint: ckpt.body).model.sampleShape) == [1, 28, 28])
        // Old results are still served, JSON and gzip PGM.
        #expect(http("GET", "\(base)/jobs/j_stdqnbsfi8u7b5/result").json["points"]?.array?.count == 16)
        #expect(http("GET", "\(base)/jobs/j_i7fhxe5swaf7vb/result").header("Content-Encoding") == "gzip")
        // The queued and interrupted jobs run to the end.
        for id in ["j_3nwvk655f8id8h", "j_xdbttisi6k5xys", "j_hpg9r3ifv2tfgn", "j_bubgzejste6w5n"] {
            let j = waitForJob(base, id, timeout: 180)
            #expect(j["status"] == "succeeded", "\(id): \(j)")
        }
        #expect(http("GET", "\(base)/jobs/j_bubgzejste6w5n/result").json["points"]?.array?.count == 4)
        // The training job interrupted at step 2800 by the old release resumed from its state: its model is the
        // one an uninterrupted run of the same recipe gives.
        let resumed = waitForJob(base, "j_3nwvk655f8id8h")
        let modelID = try #require(resumed["result"]?["model_id"]?.string)
        let model = try ScoreModel.load(checkpoint: http("GET", "\(base)/models/\(modelID)/checkpoint").body).model
        let recipe = try RecipeSchema.build(try RecipeSchema.flatten(resumed["params"]!)) { BuiltinDatasets.kind($0) }
        #expect(recipe.steps == 30_000 && recipe.seed == 7 && recipe.batchSize == 8)
        let data = try #require(try BuiltinDatasets.load(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed, directory: dir))
        let whole = try Trainer(recipe: recipe, data: data)
        try whole.run()
        #expect(whole.samplingModel.parameters == model.parameters)
    }

    @Test func newerSchemaIsRefused() throws {
        let dir = try Self.copy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.db").path
        _ = try SQLiteStore(path: path)
        try SQLiteFile.execute(path, "PRAGMA user_version = 99")
        #expect(throws: (any Error).self) { try SQLiteStore(path: path) }
    }
}
