import ScoreEngine

/// The body of `POST /train`: every field optional. Network fields sit under `model`:
/// `{"dataset": "moons", "steps": 3000, "model": {"hidden": [256, 256], "activation": "silu"}}`.
/// Image data sets start from the image defaults (`TrainingRecipe.imageDefaults`) and train the U-Net, whose
/// network fields are `model.channels`, `model.time_features` (the embedding size) and `model.fourier_scale`.
enum TrainRequest {
    static func parse(_ body: JSONValue, isImages: (String) throws -> Bool) throws -> TrainingRecipe {
        var f = try Fields(json: body)
        let dataset = try f.string("dataset") ?? TrainingRecipe().dataset
        let images = try isImages(dataset)
        var r = images ? TrainingRecipe.imageDefaults : TrainingRecipe()
        r.dataset = dataset
        let lim = TrainingRecipe.Limits.self
        if let v = try f.int("dataset_size", 1...lim.maxDatasetSize) { r.datasetSize = v }
        if let v = try f.string("objective", allowed: TrainingRecipe.ObjectiveKind.allCases.map(\.rawValue)) { r.objective = .init(rawValue: v)! }
        if let v = try f.string("sde", allowed: TrainingRecipe.SDEKind.allCases.map(\.rawValue)) { r.sde = .init(rawValue: v)! }
        r.sigma = try f.double("sigma", 1e-6...1e6)
        if let v = try f.double("sigma_min", 1e-6...1e6) { r.sigmaMin = v }
        r.sigmaMax = try f.double("sigma_max", 1e-6...1e6)
        if let v = try f.double("beta_min", 0...1000) { r.betaMin = v }
        if let v = try f.double("beta_max", 0...1000) { r.betaMax = v }
        if let v = try f.int("levels", 2...lim.maxLevels) { r.levels = v }
        if let v = try f.string("weighting", allowed: ContinuousDenoisingScoreMatching.Weighting.allCases.map(\.rawValue)) { r.weighting = .init(rawValue: v)! }
        if let v = try f.string("probe", allowed: Probe.allCases.map(\.rawValue)) { r.probe = .init(rawValue: v)! }
        if let v = try f.bool("variance_reduced") { r.varianceReduced = v }
        if var m = try f.object("model") {
            let pointOnly = ["hidden", "activation", "conditioning"].filter { m.has($0) }
            if images, let k = pointOnly.first { throw APIError.invalid("model.\(k)", "applies to point models; image models take channels, time_features, fourier_scale") }
            if !images, m.has("channels") { throw APIError.invalid("model.channels", "applies to image models (U-Net)") }
            if let v = try m.intList("channels", 1...lim.maxChannels, count: 4...4) { r.channels = v }
            if let v = try m.intList("hidden", 1...lim.maxWidth, count: 1...lim.maxDepth) { r.hidden = v }
            if let v = try m.string("activation", allowed: TrainingRecipe.activations.map(\.rawValue)) { r.activation = Pointwise(rawValue: v)! }
            if let v = try m.int("time_features", 2...lim.maxTimeFeatures) { r.timeFeatures = v }
            if let v = try m.double("fourier_scale", 1e-6...1000) { r.fourierScale = v }
            if let v = try m.string("conditioning", allowed: MLPScoreNet.Config.Conditioning.allCases.map(\.rawValue)) { r.conditioning = .init(rawValue: v)! }
            if let v = try m.bool("preconditioning") { r.preconditioning = v }
            try m.finish()
        }
        if let v = try f.int("steps", 1...lim.maxSteps) { r.steps = v }
        if let v = try f.int("batch_size", 1...lim.maxBatch) { r.batchSize = v }
        if let v = try f.double("learning_rate", 1e-9...1) { r.learningRate = v }
        if let v = try f.int("warmup", 0...lim.maxSteps) { r.warmup = v }
        if let v = try f.string("lr_schedule", allowed: TrainingRecipe.LearningRateSchedule.allCases.map(\.rawValue)) { r.schedule = .init(rawValue: v)! }
        if let v = try f.double("grad_clip", 0...1e6) { r.gradClip = v }
        if let v = try f.double("ema", 0...0.999999) { r.ema = v }
        if let v = try f.int("seed", 0...Int(Int32.max)) { r.seed = UInt64(v) }
        try f.finish()
        if images && (r.objective == .exact || r.objective == .sliced) {
            throw APIError.invalid("objective", "image models train with dsm or ncsn")
        }
        do { return try r.validated() } catch let e as TrainingRecipe.Invalid {
            throw APIError.invalid(["hidden", "activation", "time_features", "fourier_scale", "channels", "conditioning", "preconditioning"].contains(e.field) ? "model.\(e.field)" : e.field, e.message)
        }
    }
}
