import Foundation
import ScoreEngine

/// A training job: the recipe in `params`, resumed from its saved state when one exists (after a restart),
/// with progress every few steps, the state saved every `checkpoint_every_seconds`, and at the end the
/// model's checkpoint and record.
struct TrainingJob {
    let runner: JobRunner
    let live: RunningJob

    func run(_ job: inout JobRecord) throws -> JobOutcome {
        let recipe = try JSONDecoder().decode(TrainingRecipe.self, from: Data(job.params.serialized.utf8))
        let artifacts = runner.artifacts
        let data = try runner.datasets.load(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed)
        let stateURL = artifacts.state(job.id)
        let trainer: Trainer
        if let state = artifacts.read(stateURL) {
            trainer = try Trainer.resume(from: state, data: data)
            runner.logger.info("resuming training", metadata: ["job": "\(job.id)", "step": "\(trainer.step)"])
        } else {
            trainer = try Trainer(recipe: recipe, data: data)
        }
        trainer.threads = runner.config.threads[.train] ?? 2
        let started = Date(), startStep = trainer.step
        var lastSave = Date(), lastReport = Date.distantPast
        var saveError: Error? = nil
        let every = max(1, min(10, recipe.steps / 100))
        let jobID = job.id
        func progress(_ t: Trainer) -> JobProgress {
            let elapsed = Date().timeIntervalSince(started)
            let rate = elapsed > 0 ? Double(t.step - startStep) / elapsed : nil
            let eta = rate.flatMap { $0 > 0 ? Double(recipe.steps - t.step) / $0 : nil }
            return JobProgress(step: t.step, total: recipe.steps, loss: t.takeMeanLoss() ?? Double(t.lastLoss), rate: rate, etaSeconds: eta)
        }
        func save(_ t: Trainer, _ p: JobProgress) throws {
            try artifacts.write(t.state(), to: stateURL)
            if var current = try runner.store.job(jobID) {
                current.progress = p
                try runner.store.update(current)
            }
        }
        try trainer.run(every: every) { t in
            let now = Date()
            if now.timeIntervalSince(lastReport) >= 0.2 || t.isFinished {
                runner.report(live, progress(t))
                lastReport = now
            }
            if now.timeIntervalSince(lastSave) >= runner.config.checkpointEverySeconds && !t.isFinished {
                do { try save(t, progress(t)) } catch { saveError = error; return false }
                lastSave = now
            }
            return !live.shouldStop
        }
        if let saveError { throw saveError }
        if live.interrupted.load(ordering: .relaxed) && !trainer.isFinished {
            try save(trainer, progress(trainer))
            return .interrupted
        }
        if live.cancelled.load(ordering: .relaxed) && !trainer.isFinished {
            artifacts.remove(stateURL)
            return .canceled
        }
        // Finished: the model.
        let model = trainer.samplingModel
        let modelID = newID("m")
        let seconds = Date().timeIntervalSince(started)
        let recipeJSON = try JSONValue(parsing: Array(JSONEncoder().encode(recipe)))
        let info = ModelInfo.describe(model: model, recipe: recipeJSON, dataset: recipe.dataset, dataShape: Array(data.shape.dropFirst()),
                                      steps: trainer.step, finalLoss: Double(trainer.lastLoss), seconds: seconds)
        try artifacts.write(model.checkpoint(metadata: ["model_id": modelID, "job_id": job.id, "info": info.serialized]),
                            to: artifacts.checkpoint(modelID))
        try runner.store.insert(ModelRecord(id: modelID, jobId: job.id, createdAt: Date().timeIntervalSince1970, info: info))
        artifacts.remove(stateURL)
        runner.report(live, JobProgress(step: trainer.step, total: recipe.steps, loss: Double(trainer.lastLoss), rate: nil, etaSeconds: 0))
        return .succeeded(["model_id": .string(modelID), "steps": .number(Double(trainer.step)),
                           "final_loss": .number(Double(trainer.lastLoss)), "seconds": .number((seconds * 100).rounded() / 100)])
    }
}

/// What the API shows of a model: data, recipe, perturbation, figures, and the samplers it takes with their
/// defaults.
enum ModelInfo {
    static func describe(model: ScoreModel, recipe: JSONValue, dataset: String, dataShape: [Int], steps: Int,
                         finalLoss: Double, seconds: Double) -> JSONValue {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let architecture = (try? JSONValue(parsing: Array(enc.encode(model.architecture)))) ?? .null
        let schedule = (try? JSONValue(parsing: Array(enc.encode(model.schedule)))) ?? .null
        var defaults: [String: JSONValue] = [:]
        for name in SamplerSpec.supported(by: model) {
            if let s = try? SamplerSpec(name: name).make(for: model) { defaults[name.rawValue] = .string(s.description) }
        }
        return [
            "dataset": .string(dataset),
            "data_shape": .array(dataShape.map { .number(Double($0)) }),
            "kind": .string(dataShape.count > 1 ? "images" : "points"),
            "schedule": .string(model.schedule.name),
            "perturbation": schedule,
            "architecture": architecture,
            "parameters": .number(Double(model.parameters.trainableScalarCount)),
            "recipe": recipe,
            "steps": .number(Double(steps)),
            "final_loss": .number(finalLoss),
            "train_seconds": .number((seconds * 100).rounded() / 100),
            "samplers": .array(SamplerSpec.supported(by: model).map { .string($0.rawValue) }),
            "sampler_defaults": .object(defaults),
        ]
    }
}
