import ScoreEngine
import Testing

/// The sampler registry: which samplers apply to which models, and that each builds from its defaults and
/// from sent settings. (A sampler registered at run time is tested over HTTP, in OpenAPITests: the registry is
/// one for the whole test process, so only that serialized suite changes it.)
@Suite struct SamplerRegistryTests {
    static let builtin = Set(SamplerRegistry.builtin.map(\.name))
    static func names(_ space: any SampleSpace) -> [String] { SamplerRegistry.supported(by: space).map(\.name).filter(builtin.contains) }

    static let ve = DescribedSpace(schedule: .sde(VESDE(sigmaMin: 0.01, sigmaMax: 5)), sampleShape: [2])
    static let vpImages = DescribedSpace(schedule: .sde(VPSDE()), sampleShape: [1, 28, 28])
    static let ladder = DescribedSpace(schedule: .ladder(NoiseLadder()), sampleShape: [2])
    static let none = DescribedSpace(schedule: .none, sampleShape: [2])

    @Test func applicability() {
        #expect(Self.names(Self.ve) == ["dpm_solver", "heun", "euler", "edm", "ddim", "pc", "em", "reverse_diffusion", "ode", "langevin"])
        #expect(Self.names(Self.ladder) == ["annealed_langevin", "langevin"])
        #expect(Self.names(Self.none) == ["langevin"])
        #expect(SamplerRegistry.defaultEntry(for: Self.ve)?.name == "dpm_solver")
        #expect(SamplerRegistry.defaultEntry(for: Self.vpImages)?.name == "dpm_solver")
        #expect(SamplerRegistry.defaultEntry(for: Self.none, preset: Presets.named("tutorial_exact_swiss_roll"))?.name == "langevin")
        #expect(SamplerRegistry.defaultEntry(for: Self.ve, preset: Presets.named("tutorial_exact_swiss_roll"))?.name == "langevin")
        let refused = #expect(throws: InvalidParameter.self) { try SamplerRegistry.entry("pc")!.resolve([:], for: Self.none) }
        #expect(refused?.field == "sampler")
    }

    @Test func everySamplerBuildsFromItsDefaults() throws {
        for space in [Self.ve, Self.vpImages, Self.ladder, Self.none] as [any SampleSpace] {
            for e in SamplerRegistry.supported(by: space) where Self.builtin.contains(e.name) {
                let v = try e.resolve([:], for: space)
                #expect(Set(v.keys).isSubset(of: Set(e.parameters.map(\.key))), "\(e.name)")
                _ = e.make(v, space)
            }
        }
        // Images end with Tweedie's step by default, points do not.
        #expect(try SamplerRegistry.entry("em")!.resolve([:], for: Self.vpImages)["denoise"] == true)
        #expect(try SamplerRegistry.entry("em")!.resolve([:], for: Self.ve)["denoise"] == false)
    }

    @Test func settingsReachTheSampler() throws {
        let pc = SamplerRegistry.entry("pc")!
        let v = try pc.resolve(["steps": .text("20"), "snr": .json(0.3), "predictor": .text("em"), "corrector_steps": .text("2")], for: Self.ve)
        let s = try #require(pc.make(v, Self.ve) as? PredictorCorrectorSampler)
        #expect(s.steps == 20 && s.corrector == LangevinCorrector(snr: 0.3, steps: 2) && s.predictor?.name == "em")
        let ode = SamplerRegistry.entry("ode")!
        let fixed = try #require(ode.make(try ode.resolve(["solver": .text("heun"), "steps": .text("7")], for: Self.ve), Self.ve) as? ProbabilityFlowODESampler)
        #expect(fixed.solver.method == .fixed(steps: 7))
        let langevin = SamplerRegistry.entry("langevin")!
        let l = try #require(langevin.make(try langevin.resolve(["init": .text("uniform"), "init_range": .text("2")], for: Self.none), Self.none) as? LangevinDynamics)
        #expect(l.start == .uniform(low: -2, high: 2))
        #expect(throws: InvalidParameter("snr", "does not apply to sampler ode")) { try ode.resolve(["snr": .text("1")], for: Self.ve) }
        #expect(throws: InvalidParameter("init_std", "applies to sampler langevin only when init is gaussian (it is uniform)")) {
            try langevin.resolve(["init": .text("uniform"), "init_std": .text("2")], for: Self.none)
        }
    }
}
