import Foundation
import ScoreEngine

/// A training job: the recipe from its parameters, resumed from its saved state when one exists (after a
/// restart), with progress every few steps, the state saved every `checkpoint_every_seconds`, and at the end
/// the model's checkpoint and record (which the runner stores with the outcome, then removes the state).
struct TrainingJob: JobExecutor {
    func run(_ job: JobRecord, _ context: JobContext) throws -> JobOutcome {
        let recipe = try TrainingJobParameters(json: job.params, datasets: context.datasets).recipe
        let artifacts = context.artifacts
        let data = try context.datasets.load(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed)
        let labels = recipe.objectiveEntry.needsLabels
            ? try context.datasets.labels(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed) : nil
        let stateKey = artifacts.state(job.id)
        let trainer: Trainer
        if let state = try artifacts.read(stateKey) {
            trainer = try Trainer.resume(from: state, recipe: recipe, data: data, labels: labels)
            context.logger.info("resuming training", metadata: ["job": "\(job.id)", "step": "\(trainer.step)"])
        } else {
            trainer = try Trainer(recipe: recipe, data: data, labels: labels)
        }
        trainer.threads = context.threads
        let historyKey = artifacts.history(job.id)
        var history = try artifacts.read(historyKey).flatMap { try? JSONValue(parsing: $0) }.flatMap(TrainingHistory.init(stored:)) ?? TrainingHistory()
        // Seconds since the job first started, across restarts.
        let offset = history.series.last?.seconds ?? 0
        let started = Date(), startStep = trainer.step
        var lastSave = Date(), lastReport = Date.distantPast
        var saveError: Error? = nil
        let every = max(1, min(10, recipe.steps / 100))
        func progress(_ t: Trainer) -> JobProgress {
            let elapsed = Date().timeIntervalSince(started)
            let rate = elapsed > 0 ? Double(t.step - startStep) / elapsed : nil
            let eta = rate.flatMap { $0 > 0 ? Double(recipe.steps - t.step) / $0 : nil }
            return JobProgress(step: t.step, total: recipe.steps, loss: t.takeMeanLoss() ?? Double(t.lastLoss), rate: rate, etaSeconds: eta)
        }
        func record(_ t: Trainer, _ p: JobProgress) {
            guard let loss = p.loss else { return }
            history.add(.init(step: t.step, loss: loss, learningRate: t.learningRate, stepsPerSecond: p.rate,
                              seconds: offset + Date().timeIntervalSince(started)))
            context.live.history.withLock { [history] in $0 = history }
        }
        func save(_ t: Trainer, _ p: JobProgress) throws {
            try artifacts.write(t.state(), to: stateKey, fence: context.fence)
            try? artifacts.write(Data(history.stored.serialized.utf8), to: historyKey, fence: context.fence)  // the curve is not worth the run
            if var current = try context.store.job(job.id) {
                current.progress = p
                guard try context.store.update(current, fence: context.fence) else { throw LeaseLost(fence: context.fence) }
            }
        }
        // A run that fails (a diverging loss) keeps its curve: it is what shows why.
        do { try trainer.run(every: every) { t in
            let now = Date()
            if now.timeIntervalSince(lastReport) >= 0.2 || t.isFinished {
                let p = progress(t)
                record(t, p)
                context.report(p)
                lastReport = now
            }
            if now.timeIntervalSince(lastSave) >= context.checkpointEverySeconds && !t.isFinished {
                do { try save(t, progress(t)) } catch where PostgresDatabase.isTransient(error) {
                    // The database is away for now: the run goes on, and the lease decides whether it is still ours.
                    context.logger.warning("cannot save the training state; training goes on", metadata: ["job": "\(job.id)", "error": "\(error)"])
                } catch { saveError = error; return false }
                lastSave = now
            }
            return !context.live.shouldStop
        } } catch {
            try? artifacts.write(Data(history.stored.serialized.utf8), to: historyKey, fence: context.fence)
            throw error
        }
        if let saveError { throw saveError }
        if context.live.interrupted.load(ordering: .relaxed) && !trainer.isFinished {
            try save(trainer, progress(trainer))
            return .interrupted
        }
        if context.live.cancelled.load(ordering: .relaxed) && !trainer.isFinished {
            try? artifacts.write(Data(history.stored.serialized.utf8), to: historyKey, fence: context.fence)  // the curve of a canceled run stays
            return .canceled  // the runner removes the state once the outcome is recorded
        }
        // Finished: the model.
        let model = trainer.samplingModel
        let modelID = newID("m")
        let seconds = Date().timeIntervalSince(started)
        // Best effort: a missing held-out set (an upload deleted meanwhile) does not lose the model.
        var accuracy: JSONValue? = nil
        if model.isClassifier, let measured = try? TrainingJob.accuracy(model, recipe: recipe, context) { accuracy = measured }
        let info = ModelInfo(model: model, recipe: recipe, dataShape: Array(data.shape.dropFirst()), steps: trainer.step,
                             finalLoss: Double(trainer.lastLoss), seconds: seconds, accuracy: accuracy)
        try artifacts.write(model.checkpoint(metadata: ["model_id": modelID, "job_id": job.id, "info": info.json.serialized,
                                                        "recipe": RecipeSchema.echo(recipe).serialized]),
                            to: artifacts.checkpoint(modelID), fence: context.fence)
        let record = ModelRecord(id: modelID, jobId: job.id, createdAt: Date().timeIntervalSince1970, info: info.json, owner: job.owner)
        try? artifacts.write(Data(history.stored.serialized.utf8), to: historyKey, fence: context.fence)
        context.report(JobProgress(step: trainer.step, total: recipe.steps, loss: Double(trainer.lastLoss), rate: nil, etaSeconds: 0))
        var result: [String: JSONValue] = ["model_id": .string(modelID), "steps": .number(Double(trainer.step)),
                                           "final_loss": .number(Double(trainer.lastLoss)), "seconds": .number((seconds * 100).rounded() / 100)]
        if let accuracy { result["accuracy"] = accuracy }
        return .succeeded(.object(result), model: record)
    }

    /// A classifier's accuracy on held-out labelled data perturbed to several times (fractions of T).
    static func accuracy(_ model: ScoreModel, recipe: TrainingRecipe, _ context: JobContext) throws -> JSONValue? {
        guard let sde = model.schedule.sde,
              let held = try context.datasets.heldOut(recipe.dataset, count: 2000, seed: recipe.seed) else { return nil }
        let acc = try NoiseConditionalClassification.report(model, sde: sde, data: held.data, labels: held.labels, seed: recipe.seed,
                                                            threads: context.threads)
        return ["data": .string(held.source), "n": .number(Double(held.labels.count)),
                "by_t": .array(acc.map { ["t": .number($0.t), "accuracy": .number(($0.accuracy * 10_000).rounded() / 10_000)] })]
    }
}
