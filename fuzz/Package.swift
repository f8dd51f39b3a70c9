// swift-tools-version:6.0
// libFuzzer targets for the service's decoders of untrusted bytes. Build and run them with `scripts/fuzz`
// (it passes `-sanitize=fuzzer,address` to every Swift module, including the main package's, so that the
// decoders themselves are coverage-instrumented). Each target is one file, not named main.swift, exporting
// `LLVMFuzzerTestOneInput`; its `@main` starts libFuzzer's driver (`FuzzKit.run`), because SwiftPM links an
// executable's own entry point as `main`, which hides the one in libFuzzer's runtime.
import PackageDescription

let fuzzTargets = ["http_parser", "json", "csv", "pgm", "idx", "png", "tar", "safetensors"]

let package = Package(
    name: "scored-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "scored", path: "..")],
    targets: [
        .target(name: "FuzzKit", dependencies: [.product(name: "ScoreEngine", package: "scored")]),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzKit",
                .product(name: "ScoreEngine", package: "scored"),
                .product(name: "HTTPServer", package: "scored"),
            ])
    }
)
