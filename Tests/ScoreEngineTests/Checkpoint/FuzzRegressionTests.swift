import Foundation
import ScoreEngine
import Testing

/// Inputs the fuzzers (fuzz/, scripts/fuzz) found to crash the decoders, kept as regressions: each must now be
/// refused with an error. The files are fuzz/regressions/safetensors/*, inlined here.
@Suite struct FuzzRegressionTests {
    static let checkpoints: [(String, String)] = [
        ("byte_size_overflow", "SAAAAAAAAAB7IngiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzQ2MTE2ODYwMTg0MjczODc5MDRdLCJkYXRhX29mZnNldHMiOlswLDBdfX0="),
        ("odd_time_features", "OAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJzY29yZWQtbW9kZWwvMiIsImFyY2hpdGVjdHVyZSI6IntcInR5cGVcIjogXCJtbHBcIiwgXCJkaW1lbnNpb25cIjogMiwgXCJoaWRkZW5cIjogWzhdLCBcImFjdGl2YXRpb25cIjogXCJzaWx1XCIsIFwiY29uZGl0aW9uaW5nXCI6IFwibGF5ZXJzXCIsIFwidGltZV9mZWF0dXJlc1wiOiAzLCBcImZvdXJpZXJfc2NhbGVcIjogNCwgXCJkYXRhX3NjYWxlXCI6IG51bGx9Iiwic2NoZWR1bGUiOiJ7XCJ0eXBlXCI6IFwidmVcIiwgXCJzaWdtYV9taW5cIjogMC4wMSwgXCJzaWdtYV9tYXhcIjogN30ifX0gICA="),
        ("shape_product_overflow", "UAAAAAAAAAB7IngiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzQyOTQ5NjcyOTYsNDI5NDk2NzI5Nl0sImRhdGFfb2Zmc2V0cyI6WzAsMF19fSAgICAgIA=="),
        ("unet_unequal_paddings", "GAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJzY29yZWQtbW9kZWwvMiIsImFyY2hpdGVjdHVyZSI6IntcInR5cGVcIjogXCJ1bmV0XCIsIFwiaW1hZ2Vfc2hhcGVcIjogWzEsIDI4LCAyOV0sIFwiY2hhbm5lbHNcIjogWzQsIDgsIDgsIDhdLCBcInRpbWVfZmVhdHVyZXNcIjogOCwgXCJmb3VyaWVyX3NjYWxlXCI6IDgsIFwiZGF0YV9zY2FsZVwiOiBudWxsfSIsInNjaGVkdWxlIjoie1widHlwZVwiOiBcInZlXCIsIFwic2lnbWFfbWluXCI6IDAuMDEsIFwic2lnbWFfbWF4XCI6IDd9In19ICAg"),
    ]

    @Test(arguments: checkpoints.map(\.0)) func malformedCheckpointsAreRefused(_ name: String) throws {
        let data = try #require(Data(base64Encoded: Self.checkpoints.first { $0.0 == name }!.1))
        // Either the tensor file itself or the model it describes is refused: no trap.
        #expect(throws: (any Error).self) {
            _ = try Safetensors.read(data)
            _ = try ScoreModel.load(checkpoint: data)
        }
    }

    @Test func unetSidesNeedAgreeingPaddings() {
        #expect(UNetScoreNet.Config(imageShape: [1, 28, 28], channels: [8, 8, 8, 8], embedDim: 8, fourierScale: 8, dataScale: nil).problem == nil)
        #expect(UNetScoreNet.Config(imageShape: [3, 32, 32], channels: [8, 8, 8, 8], embedDim: 8, fourierScale: 8, dataScale: nil).problem == nil)
        #expect(UNetScoreNet.Config(imageShape: [1, 28, 29], channels: [8, 8, 8, 8], embedDim: 8, fourierScale: 8, dataScale: nil).problem != nil)
        #expect(UNetScoreNet.Config(imageShape: [1, 17, 18], channels: [8, 8, 8, 8], embedDim: 8, fourierScale: 8, dataScale: nil).problem != nil)
    }

    @Test func mlpTimeFeaturesMustPair() {
        #expect(MLPScoreNet.Config(timeFeatures: 3).problem != nil)
        #expect(MLPScoreNet.Config(timeFeatures: 0).problem == nil && MLPScoreNet.Config(timeFeatures: 32).problem == nil)
    }

    @Test func csvWithWindowsLineEndings() throws {
        let (points, labels) = try PointCloud.parseCSVLabelled("x,y,label\r\n1,2,0\r\n3,4,1\r\n")
        #expect(points.shape == [2, 2] && points.scalars == [1, 2, 3, 4] && labels == [0, 1])
    }
}
