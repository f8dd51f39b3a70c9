// swift-tools-version:6.0
import PackageDescription

/// The numeric code is compiled for AVX2/FMA machines (haswell) when built on x86_64; elsewhere for the
/// compiler's default CPU. Preconditions stay checked in release builds (no -Ounchecked).
#if arch(x86_64)
let cpuFlags = ["-target-cpu", "haswell"]
let cCPUFlags = ["-march=haswell"]
#else
let cpuFlags: [String] = []
let cCPUFlags: [String] = []
#endif
let engineSettings: [SwiftSetting] = [
    .unsafeFlags(cpuFlags),
    // The tape's arrays are touched only by the thread that owns the tape; the runtime's exclusivity
    // checks on them cost 5% of a training step (perf), so release builds leave them out.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "scored",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ScoreEngine", targets: ["ScoreEngine"]),
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
        .executable(name: "scored", targets: ["scored"]),
        .executable(name: "score-bench", targets: ["ScoreBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPostgres", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CEpoll"),
        .target(name: "CSIMD", cSettings: [.unsafeFlags(cCPUFlags + ["-O3"])]),
        .target(name: "ScoreEngine", dependencies: ["CBLAS", "CZlib", "CSIMD"], swiftSettings: engineSettings),
        .target(name: "HTTPServer", dependencies: ["COpenSSL", "CEpoll", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ScoreService",
            dependencies: [
                "ScoreEngine", "HTTPServer", "CSQLite", "CPostgres", "CZlib", "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: engineSettings),
        .executableTarget(
            name: "scored",
            dependencies: [
                "ScoreEngine", "ScoreService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: engineSettings),
        .executableTarget(name: "ScoreBench", dependencies: ["ScoreEngine"], swiftSettings: engineSettings),
        .testTarget(name: "ScoreEngineTests", dependencies: ["ScoreEngine"], swiftSettings: engineSettings),
        .target(name: "TestSupport", dependencies: ["COpenSSL"], path: "Tests/TestSupport"),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TestSupport", "COpenSSL"]),
        .testTarget(name: "ScoreServiceTests", dependencies: ["ScoreService", "ScoreEngine", "HTTPServer", "CSQLite", "CPostgres", "scored", "TestSupport",
                                                                 .product(name: "Logging", package: "swift-log")],
                    exclude: ["Fixtures"]),
    ]
)
