import ScoreEngine
import Testing

/// The training recipe built from a request's fields: defaults by data kind, presets under the sent fields,
/// fields that do not apply refused (by their path), and the echo that gives the same recipe back.
@Suite struct RecipeSchemaTests {
    static func kindOf(_ name: String) -> DataKind? { BuiltinDatasets.kind(name) }

    static func build(_ body: JSONValue) throws -> TrainingRecipe {
        try RecipeSchema.build(try RecipeSchema.flatten(body)) { kindOf($0) }
    }

    func field(_ body: JSONValue) -> String? {
        do { _ = try Self.build(body); return nil } catch let e as InvalidParameter { return e.field } catch { return "?" }
    }

    @Test func defaultsByKind() throws {
        let points = try Self.build([:])
        #expect(points == TrainingRecipe())
        #expect(points.kind == .points && points.steps == 5000 && points.batchSize == 256 && points.objective == "dsm")
        #expect(points.objectiveParameters.values == ["sde": "ve", "weighting": "sigma2", "sigma_min": 0.01])
        let images = try Self.build(["dataset": "mnist"])
        #expect(images == TrainingRecipe(kind: .images))
        #expect(images.steps == 20_000 && images.batchSize == 32 && images.learningRate == 5e-4 && images.warmup == 500)
        #expect(images.ema == 0.999 && images.timeFeatures == 256 && images.fourierScale == 8 && !images.preconditioning)
        #expect(images.objectiveParameters["sigma_max"] == 22)
    }

    @Test func echoGivesTheSameRecipeBack() throws {
        let bodies: [JSONValue] = [
            [:], ["dataset": "mnist", "steps": 10], ["objective": "ncsn", "levels": 5, "sigma_max": 3],
            ["sde": "vp", "beta_max": 10, "weighting": "likelihood"], ["objective": "dsm", "sigma": 0.2],
            ["objective": "sliced", "probe": "gaussian", "variance_reduced": true, "model": ["hidden": [8, 8], "activation": "log_sigmoid"]],
        ] + Presets.all.map { ["preset": .string($0.name)] }
        for body in bodies {
            let r = try Self.build(body)
            let echo = RecipeSchema.echo(r)
            #expect(try Self.build(echo) == r, "\(body.serialized) → \(echo.serialized)")
        }
        // Only what applies is echoed: no point-model fields for images, no SDE fields for NCSN.
        let images = RecipeSchema.echo(try Self.build(["dataset": "mnist"]))
        #expect(images["model"]?["hidden"] == nil && images["model"]?["channels"] == [32, 64, 128, 256] && images["dataset_size"] == nil)
        let ncsn = RecipeSchema.echo(try Self.build(["objective": "ncsn"]))
        #expect(ncsn["sde"] == nil && ncsn["beta_min"] == nil && ncsn["levels"] == 10 && ncsn["sigma_max"] == .null)
    }

    @Test func errorsNameTheField() {
        #expect(field(["steps": 0]) == "steps")
        #expect(field(["stepz": 1]) == "stepz")
        #expect(field(["dataset": "nope"]) == "dataset")
        #expect(field(["model": ["activation": "cosine"]]) == "model.activation")
        #expect(field(["model": ["width": 3]]) == "model.width")
        #expect(field(["model": 3]) == "model")
        #expect(field(["dataset": "mnist", "model": ["hidden": [8]]]) == "model.hidden")
        #expect(field(["model": ["channels": [8, 8, 8, 8]]]) == "model.channels")
        #expect(field(["model": ["time_features": 31]]) == "model.time_features")
        #expect(field(["objective": "exact", "sigma": 0.1]) == "sigma")
        #expect(field(["objective": "ncsn", "beta_min": 0.2]) == "beta_min")
        #expect(field(["sde": "vp", "sigma_min": 0.2]) == "sigma_min")
        #expect(field(["sigma": 0.1, "sde": "vp"]) == "sde")
        #expect(field(["sigma_min": 1, "sigma_max": 0.5]) == "sigma_max")
        #expect(field(["sde": "vp", "beta_min": 5, "beta_max": 1]) == "beta_max")
        #expect(field(["dataset": "mnist", "objective": "sliced"]) == "objective")
        #expect(field(["preset": "nope"]) == "preset")
        #expect(field(["preset": "notebook_mnist", "dataset": "moons"]) == "dataset")
        #expect(field(["ema": 1]) == "ema")
        #expect(field(["batch_size": 1.5]) == "batch_size")
    }

    @Test func presetsUnderSentFields() throws {
        let exact = try Self.build(["preset": "tutorial_exact_swiss_roll", "steps": 100])
        #expect(exact.preset == "tutorial_exact_swiss_roll" && exact.objective == "exact" && exact.steps == 100)
        #expect(exact.hidden == [64, 64, 64] && exact.activation == .logSigmoid && exact.learningRate == 3e-4 && exact.batchSize == 32)
        #expect(exact.ema == 0 && exact.lrSchedule == .constant && exact.gradClip == 0 && exact.datasetSize == 1000)
        // The preset's fields that do not apply to the objective sent beside it are dropped, not refused.
        let switched = try Self.build(["preset": "ncsn_swiss_roll", "objective": "dsm", "sde": "vp"])
        #expect(switched.objectiveParameters.values == ["sde": "vp", "weighting": "sigma2", "beta_min": 0.1, "beta_max": 20])
        // A preset's value that is invalid with a sent one is refused, not dropped; null unsets a preset's field.
        #expect(field(["preset": "ncsn_swiss_roll", "sigma_min": 2]) == "sigma_max")
        #expect(field(["preset": "tutorial_dsm_donut", "sde": "ve"]) == "sde")
        let unset = try Self.build(["preset": "tutorial_dsm_donut", "sigma": .null, "sde": "vp"])
        #expect(unset.objectiveParameters.values == ["sde": "vp", "weighting": "sigma2", "beta_min": 0.1, "beta_max": 20])
        #expect(unset.hidden == [32, 32, 32] && unset.activation == .relu)
        // The notebook's recipe, as its source gives it.
        let notebook = try Self.build(["preset": "notebook_mnist"])
        #expect(notebook.steps == 93_750 && notebook.learningRate == 1e-4 && notebook.ema == 0 && notebook.channels == [32, 64, 128, 256])
        #expect(notebook.objectiveParameters.values == ["sde": "ve", "weighting": "sigma2", "sigma_min": 0.01, "sigma_max": 22])
        // Every preset's sampler applies to the models its recipe trains.
        for p in Presets.all {
            let r = try Self.build(["preset": .string(p.name)])
            let shape = r.kind == .points ? [2] : [1, 28, 28]
            let space = DescribedSpace(schedule: r.objectiveEntry.makeSchedule(r.objectiveParameters, data: Tensor(rows: [[0, 0], [1, 1]])),
                                       sampleShape: shape)
            #expect(SamplerRegistry.defaultEntry(for: space, preset: p)?.name == p.sampling.sampler, "\(p.name)")
            for (name, settings) in p.sampling.parameters {
                #expect(throws: Never.self) { try SamplerRegistry.entry(name)!.resolve(settings.mapValues { .json($0) }, for: space) }
            }
        }
    }
}
