import Foundation
import ScoreEngine
import Testing

/// Checkpoints written by the first release (`scored-model/1`: Swift's synthesized enum encoding in the
/// metadata) still load, with the architecture and perturbation they were saved with; and the current format
/// writes tagged snake_case objects.
@Suite struct LegacyCheckpointTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ScoreServiceTests/Fixtures/datadir-v0/checkpoints")

    @Test func firstFormatLoads() throws {
        // An MLP trained on the swiss roll (VE, σ_max from the data) and a small U-Net on MNIST: the first release's
        // HTTP path left σ_max unset for images, so it was resolved from the data (15.83) instead of the documented 22.
        let mlp = try ScoreModel.load(checkpoint: Data(contentsOf: Self.fixtures.appendingPathComponent("m_8wd4mg7kkvd2zh.safetensors")))
        #expect(mlp.metadata["format"] == ScoreModel.checkpointFormat)
        guard case .mlp(let c) = mlp.model.architecture else { Issue.record("not an MLP"); return }
        #expect(c.hidden == [8, 8] && c.activation == .silu && c.timeFeatures == 32 && c.conditioning == .layers && c.dataScale != nil)
        guard case .sde(let ve as VESDE) = mlp.model.schedule else { Issue.record("not VE"); return }
        #expect(ve.sigmaMin == 0.01 && abs(ve.sigmaMax - 7.0023) < 1e-3)
        let unet = try ScoreModel.load(checkpoint: Data(contentsOf: Self.fixtures.appendingPathComponent("m_xm9fu2gruhf3pj.safetensors")))
        guard case .unet(let u) = unet.model.architecture else { Issue.record("not a U-Net"); return }
        #expect(u.channels == [4, 8, 8, 8] && u.embedDim == 8 && u.imageShape == [1, 28, 28])
        guard case .sde(let unetSDE as VESDE) = unet.model.schedule else { Issue.record("not VE"); return }
        #expect(unetSDE.sigmaMin == 0.01 && abs(unetSDE.sigmaMax - 15.8304) < 1e-3)
        let ladder = try ScoreModel.load(checkpoint: Data(contentsOf: Self.fixtures.appendingPathComponent("m_z5fteefi8ne495.safetensors")))
        #expect(ladder.model.schedule.family == .ladder)
        let exact = try ScoreModel.load(checkpoint: Data(contentsOf: Self.fixtures.appendingPathComponent("m_53v6yg8ud5t5ha.safetensors")))
        #expect(exact.model.schedule == .none)
        guard case .mlp(let e) = exact.model.architecture else { Issue.record("not an MLP"); return }
        #expect(e.activation == .softplus && e.timeFeatures == 0)
    }

    @Test func currentFormatIsTagged() throws {
        let m = ScoreModel(architecture: .mlp(.init(activation: .logSigmoid)), schedule: .ladder(NoiseLadder(levels: 3)), seed: 1)
        let meta = try Safetensors.read(m.checkpoint()).metadata
        let a = try JSONValue(parsing: meta["architecture"]!), s = try JSONValue(parsing: meta["schedule"]!)
        #expect(a["type"] == "mlp" && a["activation"] == "log_sigmoid" && a["time_features"] == 32)
        #expect(s == ["type": "ladder", "sigma_min": 0.01, "sigma_max": 1, "levels": 3])
        #expect(try ScoreModel.load(checkpoint: m.checkpoint()).model.parameters == m.parameters)
        #expect(throws: (any Error).self) { try NoiseSchedule(json: ["type": "ve", "sigma_min": 1, "sigma_max": 0.5]) }
        #expect(throws: (any Error).self) { try Architecture(json: ["type": "unet", "image_shape": [1, 8, 8], "channels": [1, 1, 1, 1], "time_features": 2, "fourier_scale": 1]) }
    }
}
