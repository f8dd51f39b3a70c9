import ScoreEngine
import Testing

/// Declared parameters: values sent as JSON or text are checked against their kind and range, defaults depend
/// on the data's kind or the model, conditions leave out what does not apply, and every error names the field.
@Suite struct ParameterTests {
    static let steps = Parameter("steps", .integer(1...100), default: .value(10), help: "steps")
    static let snr = Parameter("snr", .number(.above(0, upTo: 10)), default: .value(0.16), help: "snr")
    static let flag = Parameter("denoise", .boolean, default: .byKind(points: .value(false), images: .value(true)), help: "d")
    static let solver = Parameter("solver", .choice(["rk45", "euler"]), default: .value("rk45"), help: "s")
    static let rtol = Parameter("rtol", .number(.closed(1e-9, 0.1)), default: .value(1e-5), help: "r", when: .init("solver", in: ["rk45"]))
    static let widths = Parameter("hidden", .integerList(1...64, count: 1...3), default: .value([8]), help: "w")

    func error(_ body: () throws -> Any) -> InvalidParameter? {
        do { _ = try body(); return nil } catch let e as InvalidParameter { return e } catch { return InvalidParameter("?", "\(error)") }
    }

    @Test func valuesFromJSONAndText() throws {
        #expect(try Self.steps.value(fromJSON: 5) == 5)
        #expect(try Self.steps.value(fromText: "5") == 5)
        #expect(try Self.steps.value(fromText: "1e1") == 10)
        #expect(error { try Self.steps.value(fromJSON: 5.5) }?.message == "must be an integer between 1 and 100")
        #expect(error { try Self.steps.value(fromJSON: 0) }?.field == "steps")
        #expect(error { try Self.steps.value(fromJSON: "5") }?.message == "must be an integer between 1 and 100, got a string")
        #expect(error { try Self.steps.value(fromText: "five") }?.message == "must be an integer between 1 and 100, got \"five\"")
        #expect(error { try Self.snr.value(fromJSON: 0) }?.message == "must be a number in (0, 10]")
        #expect(try Self.snr.value(fromJSON: 10) == 10)
        #expect(error { try Self.snr.value(fromText: "nan") } != nil)
        #expect(try Self.flag.value(fromText: "yes") == true && Self.flag.value(fromText: "0") == false)
        #expect(error { try Self.flag.value(fromJSON: 1) }?.message == "must be true or false, got a number")
        #expect(error { try Self.solver.value(fromText: "rk4") }?.message == "must be one of rk45, euler, got \"rk4\"")
        #expect(try Self.widths.value(fromText: "8, 16") == [8, 16])
        #expect(try Self.widths.value(fromJSON: [8, 16, 4]) == [8, 16, 4])
        #expect(error { try Self.widths.value(fromJSON: [8, 16, 4, 2]) }?.message == "must list 1 to 3 integers between 1 and 64")
        #expect(error { try Self.widths.value(fromText: "8,x") } != nil)
        #expect(error { try Self.widths.value(fromJSON: [0]) } != nil)
    }

    @Test func resolutionFillsDefaultsAndAppliesConditions() throws {
        let ps = [Self.steps, Self.flag, Self.solver, Self.rtol]
        let unknown = { (k: String) in InvalidParameter(k, "unknown field") }
        let points = try ps.resolve([:], kind: .points, owner: "sampler x", unknown: unknown)
        #expect(points.values == ["steps": 10, "denoise": false, "solver": "rk45", "rtol": 1e-5])
        let images = try ps.resolve(["steps": .text("3")], kind: .images, owner: "sampler x", unknown: unknown)
        #expect(images.values == ["steps": 3, "denoise": true, "solver": "rk45", "rtol": 1e-5])
        // A condition that does not hold drops the default, and refuses a sent value.
        let euler = try ps.resolve(["solver": .json("euler")], kind: .points, owner: "sampler x", unknown: unknown)
        #expect(euler["rtol"] == nil)
        let refused = error { try ps.resolve(["solver": .json("euler"), "rtol": .json(0.01)], kind: .points, owner: "sampler x", unknown: unknown) }
        #expect(refused == InvalidParameter("rtol", "applies to sampler x only when solver is rk45 (it is euler)"))
        #expect(error { try ps.resolve(["stepz": .json(1)], kind: .points, owner: "sampler x", unknown: unknown) } == InvalidParameter("stepz", "unknown field"))
        let required = [Parameter.required("model", .text(maxLength: 10), help: "m")]
        #expect(error { try required.resolve([:], kind: .points, owner: "x", unknown: unknown) } == InvalidParameter("model", "is required"))
    }

    @Test func derivedDefaultsReadTheModel() throws {
        let entry = try #require(SamplerRegistry.entry("langevin"))
        let ve = DescribedSpace(schedule: .sde(VESDE(sigmaMin: 0.01, sigmaMax: 5)), sampleShape: [2])
        #expect(try entry.resolve([:], for: ve)["init_std"] == .number(VESDE(sigmaMin: 0.01, sigmaMax: 5).priorStd))
        let exact = DescribedSpace(schedule: .none, sampleShape: [2])
        #expect(try entry.resolve([:], for: exact)["init_std"] == 1)
    }

    @Test func schemasAndDocumentation() {
        #expect(Self.snr.schema()["exclusiveMinimum"] == 0 && Self.snr.schema()["maximum"] == 10)
        #expect(Self.widths.schema()["maxItems"] == 3)
        #expect(Self.rtol.documentation() == "r (when solver is rk45); default 1e-05")
        #expect(Self.flag.documentation() == "d; default false for points, true for images")
    }
}
