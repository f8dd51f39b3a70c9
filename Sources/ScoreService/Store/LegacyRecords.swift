import Foundation
import ScoreEngine

/// Migration 2: rewrites what the first release stored in its own shapes.
/// - Training jobs' parameters were the whole recipe, flat (`hidden` beside `steps`, every field whether it
///   applied or not): they become the recipe as a request sends it (`RecipeSchema.echo`).
/// - Sampling jobs' parameters held the sampler as `{"sampler": name, …settings}`: they become
///   `SamplingJobParameters` (`"sampler": name, "parameters": {…}`).
/// - Model records held the architecture and perturbation in Swift's synthesized enum encoding and the flat
///   recipe: they become `ModelInfo`.
/// A queued job whose recipe cannot be read any more fails, with the reason; finished ones keep what they had.
/// Rows that were unreadable already are left as they are: reading them afterwards is a `CorruptRecord`.
enum LegacyRecords {
    static func upgrade(_ db: SQLiteDatabase) throws {
        var uploads: [String: DataKind] = [:]
        for r in try db.queryUnlocked("SELECT id, kind FROM datasets") {
            if let id = r["id"]?.string, let k = r["kind"]?.string.flatMap(DataKind.init(rawValue:)) { uploads[id] = k }
        }
        let kindOf: (String) -> DataKind? = { DatasetCatalog.builtinKind($0) ?? uploads[$0] }

        for r in try db.queryUnlocked("SELECT id, kind, status, params FROM jobs") {
            guard let id = r["id"]?.string, let kind = r["kind"]?.string, let status = r["status"]?.string,
                  let text = r["params"]?.string, let params = try? JSONValue(parsing: text) else { continue }
            do {
                let upgraded: JSONValue
                switch kind {
                case "train": upgraded = try recipe(params, kindOf: kindOf)
                case "sample": upgraded = sampling(params)
                default: continue
                }
                try db.executeUnlocked("UPDATE jobs SET params = ? WHERE id = ?", [.text(upgraded.serialized), .text(id)])
            } catch {
                guard status == "queued" || status == "running" else { continue }
                try db.executeUnlocked("UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                                       [.text("the parameters written by the previous release cannot be read: \(error)"),
                                        .real(Date().timeIntervalSince1970), .text(id)])
            }
        }

        for r in try db.queryUnlocked("SELECT id, info FROM models") {
            guard let id = r["id"]?.string, let text = r["info"]?.string, let info = (try? JSONValue(parsing: text))?.object else { continue }
            try db.executeUnlocked("UPDATE models SET info = ? WHERE id = ?", [.text(model(info, kindOf: kindOf).serialized), .text(id)])
        }
    }

    /// The flat recipe of the first release as a request sends it now.
    static func recipe(_ flat: JSONValue, kindOf: (String) -> DataKind?) throws -> JSONValue {
        guard let o = flat.object else { throw InvalidParameter("params", "is not an object") }
        let network: Set<String> = ["hidden", "activation", "conditioning", "channels", "time_features", "fourier_scale", "preconditioning"]
        var base: [String: RawValue] = [:]
        for (k, v) in o where v != .null {
            var value = v
            if k == "activation", v == "logSigmoid" { value = "log_sigmoid" }
            base[network.contains(k) ? "model.\(k)" : k] = .json(value)
        }
        let dataset = o["dataset"]?.string ?? ""
        let r = try RecipeSchema.build([:], base: base) { _ in kindOf(dataset) ?? .points }
        return RecipeSchema.echo(r)
    }

    /// `{"sampler": {"sampler": name, …}, …}` → `{"sampler": name, "parameters": {…}, …}`.
    static func sampling(_ params: JSONValue) -> JSONValue {
        guard var o = params.object, var spec = o["sampler"]?.object, let name = spec.removeValue(forKey: "sampler") else { return params }
        o["sampler"] = name
        o["parameters"] = .object(spec)
        return .object(o)
    }

    static func model(_ info: [String: JSONValue], kindOf: (String) -> DataKind?) -> JSONValue {
        var o = info
        if let a = o["architecture"] { o["architecture"] = LegacyFormat.architecture(a) }
        if let p = o["perturbation"] { o["perturbation"] = LegacyFormat.schedule(p) }
        if let n = o.removeValue(forKey: "parameters") { o["parameter_count"] = n }
        if let r = o["recipe"], let upgraded = try? recipe(r, kindOf: kindOf) { o["recipe"] = upgraded }
        o["samplers"] = nil
        o["sampler_defaults"] = nil
        return .object(o)
    }
}
