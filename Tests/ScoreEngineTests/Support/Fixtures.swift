import Foundation
import ScoreEngine

/// The shared PyTorch fixtures (`../shared/fixtures/` beside the repository, or `$SCORED_SHARED/fixtures`).
enum Fixtures {
    static var sharedDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SCORED_SHARED"] { return URL(fileURLWithPath: env) }
        // Tests/ScoreEngineTests/Support/Fixtures.swift → repository root → ../shared
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared")
    }

    static func load(_ name: String) throws -> Safetensors.File {
        try Safetensors.read(contentsOf: sharedDirectory.appendingPathComponent("fixtures/\(name).safetensors"))
    }
}
