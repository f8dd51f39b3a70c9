import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a score model and write it as a .safetensors checkpoint.",
        discussion: """
            Every field of POST /train is an option, checked as the API checks it (network fields too: --hidden 64,64).
            --dataset takes a built-in data set (\(BuiltinDatasets.names.joined(separator: ", "))) or a file:
            points as .json or .csv, images as IDX or PGM (optionally .gz).

            \(CommandLineFields.help(
                RecipeSchema.fields.map { ($0.parameter.key, $0.parameter, $0.kinds.count == 1 ? "\($0.kinds[0]) only" : nil) }
                + RecipeSchema.perturbationFields.map { ($0.parameter.key, $0.parameter, $0.owners.joined(separator: ", ")) }))

            Presets (--preset): \(Presets.all.map(\.name).joined(separator: ", ")).
            """)

    @Option(help: "Start from a named recipe; the options given beside it override it.") var preset: String?
    @Option(name: [.short, .long], help: "Checkpoint to write.") var out = "model.safetensors"
    @Option(help: "Compute threads.") var threads = 2
    @Option(help: "Labels of an image file (an IDX label file, gzip or not), for --objective classifier.") var labels: String?
    @Argument(parsing: .allUnrecognized, help: "Recipe fields as --name value.") var fields: [String] = []

    func recipe() throws -> TrainingRecipe {
        var given: [String: RawValue] = [:]
        for (k, v) in try CommandLineFields.parse(fields) { given[RecipeSchema.path(forKey: k)] = v }
        if let preset { given["preset"] = .text(preset) }
        return try RecipeSchema.build(given) { try LocalData.kind(of: $0) }
    }

    func run() throws {
        let recipe = try recipe()
        let (data, labels) = try LocalData.loadLabelled(recipe.dataset, size: recipe.datasetSize, seed: recipe.seed, labelsFile: self.labels)
        let trainer = try Trainer(recipe: recipe, data: data, labels: labels)
        trainer.threads = threads
        note("training \(recipe.objective) on \(recipe.dataset) (\(data.shape[0]) \(recipe.kind)), schedule \(trainer.model.schedule.name), \(trainer.model.parameters.trainableScalarCount) parameters")
        let bar = ProgressLine(total: recipe.steps)
        let started = Date()
        try trainer.run(every: max(1, min(100, recipe.steps / 100))) { t in
            bar.update(step: t.step, loss: t.takeMeanLoss())
            return true
        }
        let seconds = Date().timeIntervalSince(started)
        var meta = ["recipe": RecipeSchema.echo(recipe).serialized, "steps": String(trainer.step),
                    "final_loss": String(trainer.lastLoss), "train_seconds": String(format: "%.2f", seconds)]
        let model = trainer.samplingModel
        if model.isClassifier, let sde = model.schedule.sde {
            // Best effort: the model is written whatever happens here.
            do {
                let held = try BuiltinDatasets.heldOut(recipe.dataset, count: 2000, seed: recipe.seed, directory: try LocalData.builtinDirectory)
                    ?? labels.map { l in (data.rows(0..<min(2000, data.shape[0])), Array(l.prefix(2000)), "the training data") }
                if let held {
                    let acc = try NoiseConditionalClassification.report(model, sde: sde, data: held.0, labels: held.1, seed: recipe.seed, threads: threads)
                    let text = acc.map { String(format: "t=%.3g %.3f", $0.t, $0.accuracy) }.joined(separator: ", ")
                    note("accuracy on \(held.2) (\(held.1.count)): \(text)")
                    meta["accuracy"] = text
                }
            } catch {
                note("the accuracy could not be measured: \(error)")
            }
        }
        try model.checkpoint(metadata: meta).write(to: URL(fileURLWithPath: out), options: .atomic)
        note(String(format: "wrote %@ (%d steps in %.1f s, %.0f steps/s)", out, trainer.step, seconds, Double(trainer.step) / seconds))
    }
}
