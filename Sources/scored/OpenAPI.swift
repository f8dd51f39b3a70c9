import ArgumentParser
import Foundation
import ScoreEngine
import ScoreService

/// `scored openapi`: the OpenAPI description the service publishes, generated over `public/openapi.json` from
/// the routes and the registries; `--write` puts it back into the file (after a field or a sampler is added).
struct OpenAPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi",
        abstract: "Print the generated OpenAPI description (--write: update public/openapi.json with it).")

    @Option(name: .customLong("public-dir"), help: "Where openapi.json is.") var publicDir = "public"
    @Flag(help: "Rewrite public_dir/openapi.json instead of printing.") var write = false

    func run() throws {
        let file = URL(fileURLWithPath: publicDir).appendingPathComponent("openapi.json")
        let skeleton = try JSONValue(parsing: Array(Data(contentsOf: file)))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scored-openapi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = ServiceConfig()
        config.dataDir = dir.path
        config.publicDir = publicDir
        let text = try Service(config: config).openAPIDocument(skeleton: skeleton).prettyPrinted() + "\n"
        if write { try Data(text.utf8).write(to: file, options: .atomic) } else { print(text, terminator: "") }
    }
}
