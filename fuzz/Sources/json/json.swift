import FuzzKit
import ScoreEngine

/// The JSON parser (`JSONValue(parsing:)`, which reads every JSON request body) and what the service does next
/// with a parsed body: a point-cloud upload (`POST /datasets`, application/json), points to impute, a training
/// request (`POST /train`: `RecipeSchema.flatten` then `build`), and the architecture and schedule readers of
/// checkpoints. Checked besides "no crash": what the writers (`serialized`, `prettyPrinted`) produce reads back
/// as the same value, and a training recipe's echo, sent back, gives the same recipe.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = FuzzKit.bytes(data, size)
    guard let v = try? JSONValue(parsing: b) else { return 0 }

    FuzzKit.note("JSON \(v.typeName)")
    // The writers.
    let compact = v.serialized
    if allFinite(v) {
        FuzzKit.require((try? JSONValue(parsing: compact)) == v, "serialized does not read back: \(compact)")
        FuzzKit.require((try? JSONValue(parsing: v.prettyPrinted())) == v, "prettyPrinted does not read back")
    } else {
        FuzzKit.require((try? JSONValue(parsing: compact)) != nil, "serialized with non-finite numbers is not JSON: \(compact)")
    }

    // A point-cloud upload, as `POST /datasets` reads it (default limits).
    if let r = try? DataFormat.json.readWithClasses(b) {
        let x = r.data
        FuzzKit.note("points \(x.shape) labels \(r.labels?.count ?? -1)")
        FuzzKit.require(x.rank == 2 && x.shape[0] >= 1 && (1...64).contains(x.shape[1]), "points of shape \(x.shape)")
        FuzzKit.require(x.isFinite, "a non-finite coordinate")
        if let labels = r.labels {
            FuzzKit.require(labels.count == x.shape[0] && labels.allSatisfy { (0...PointCloud.maxLabel).contains($0) }, "labels \(labels)")
        }
    }
    // Points to impute (`POST /impute`).
    if let p = try? PointCloud.parsePartial(b, limits: .init(maxPoints: 10_000)) {
        FuzzKit.note("impute \(p.values.shape)")
        FuzzKit.require(p.values.shape == p.mask.shape && p.values.rank == 2, "impute shapes \(p.values.shape) \(p.mask.shape)")
        FuzzKit.require(p.mask.scalars.allSatisfy { $0 == 0 || $0 == 1 }, "mask not 0/1")
    }

    // A training request (`POST /train`).
    if case .object = v, let given = try? RecipeSchema.flatten(v),
       let recipe = try? RecipeSchema.build(given, kindOf: { BuiltinDatasets.kind($0) }) {
        let echo = RecipeSchema.echo(recipe)
        FuzzKit.note("recipe \(echo.serialized)")
        do {
            let again = try RecipeSchema.build(try RecipeSchema.flatten(echo), kindOf: { BuiltinDatasets.kind($0) })
            FuzzKit.require(RecipeSchema.echo(again) == echo, "the echo of a recipe gives another recipe: \(echo.serialized)")
        } catch {
            FuzzKit.require(false, "the echo of a recipe is refused: \(error): \(echo.serialized)")
        }
    }

    // The checkpoint metadata readers (`ScoreModel.load`): no model is built here.
    _ = try? Architecture(json: v)
    _ = try? NoiseSchedule(json: v)
    _ = LegacyFormat.architecture(v)
    _ = LegacyFormat.schedule(v)
    return 0
}

func allFinite(_ v: JSONValue) -> Bool {
    switch v {
    case .number(let x): return x.isFinite
    case .array(let a): return a.allSatisfy(allFinite)
    case .object(let o): return o.values.allSatisfy(allFinite)
    default: return true
    }
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
