import Foundation
import ScoreEngine
import ScoreService
import Testing

/// Every preset trains and samples through the API (shortened by field overrides where the full recipe is
/// long), its sampler settings become the defaults of the models it trains, and `/samples?preset=` applies them
/// to another model or to the analytic donut.
@Suite(.serialized) struct PresetTests {
    @Test func everyPresetTrainsAndSamples() throws {
        let h = try Harness { $0.threads = [.train: 2, .sample: 2] }
        let base = h.base
        let listed = http("GET", "\(base)/presets").json["presets"]?.array ?? []
        #expect(listed.compactMap { $0["name"]?.string } == Presets.all.map(\.name))
        let overrides: [String: String] = [
            "tutorial_exact_swiss_roll": #""steps": 3000"#,
            "tutorial_dsm_donut": #""steps": 3000"#,
            "ncsn_swiss_roll": #""steps": 500"#,
            "default_points": #""steps": 500"#,
            "notebook_mnist": #""steps": 2, "model": {"channels": [4, 8, 8, 8], "time_features": 8}"#,
            "default_images": #""steps": 2, "model": {"channels": [4, 8, 8, 8], "time_features": 8}"#,
        ]
        for preset in Presets.all {
            let body = "{\"preset\": \"\(preset.name)\", \(overrides[preset.name]!)}"
            let posted = http("POST", "\(base)/train", body: body)
            #expect(posted.status == 202, "\(preset.name): \(posted.text)")
            #expect(posted.json["params"]?["preset"] == .string(preset.name))
            let job = waitForJob(base, try #require(posted.json["id"]?.string), timeout: 300)
            #expect(job["status"] == "succeeded", "\(preset.name): \(job)")
            let modelID = try #require(job["result"]?["model_id"]?.string)
            let model = http("GET", "\(base)/models/\(modelID)").json
            #expect(model["default_sampler"] == .string(preset.sampling.sampler), "\(preset.name)")
            for (sampler, settings) in preset.sampling.parameters {
                for (k, v) in settings { #expect(model["sampler_defaults"]?[sampler]?[k] == v, "\(preset.name) \(sampler).\(k)") }
            }
            // The model's default sampler is the preset's, with its settings; images fast enough with few steps.
            let extra = preset.kind == .images ? "&n=2&steps=4" : "&n=500"
            let r = http("GET", "\(base)/samples?model=\(modelID)\(extra)")
            #expect(r.status == 200, "\(preset.name): \(r.text.prefix(300))")
            if preset.kind == .points {
                #expect(r.json["sampler"] == .string(preset.sampling.sampler) && r.json["points"]?.array?.count == 500)
                for (k, v) in preset.sampling.parameters[preset.sampling.sampler] ?? [:] where k != "steps" {
                    #expect(r.json["parameters"]?[k] == v, "\(preset.name): \(k)")
                }
            } else {
                #expect(r.header("Content-Type") == "image/x-portable-graymap")
            }
        }
        // The donut preset's sampler on the analytic donut: 10 000 particles by default, as the tutorial draws them.
        let donut = http("GET", "\(base)/samples?target=donut&preset=tutorial_dsm_donut")
        #expect(donut.json["points"]?.array?.count == 10_000 && donut.json["parameters"]?["step_size"] == 0.01 && donut.json["model"] == .null)
    }
}
