import Foundation
import ScoreEngine
import Testing

/// The `scored` binary next to the test bundle, run as a server process on a data directory.
final class ServerProcess {
    let process = Process()
    let port: Int
    let log: Pipe
    private let logged = LockedText()

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("scored")
    }

    /// The ports of every "listening" line, in order (with TLS: the HTTPS one, then the plain listeners).
    private(set) var ports: [Int] = []

    /// `scored serve` (or, with `worker: true`, `scored worker` with a health listener) on a data directory,
    /// with extra arguments and environment variables.
    init(dataDir: URL, arguments extra: [String] = [], worker: Bool = false, environment: [String: String] = [:]) throws {
        process.executableURL = ServerProcess.binary
        process.arguments = (worker ? ["worker", "--health-port", "0", "--data-dir", dataDir.path]
                                    : ["serve", "--port", "0", "--data-dir", dataDir.path, "--public-dir", Harness.repository.appendingPathComponent("public").path])
            + extra
        var env = ProcessInfo.processInfo.environment
        env["SCORED_CHECKPOINT_EVERY_SECONDS"] = "0.3"
        env["SCORED_CONFIG"] = Harness.repository.appendingPathComponent("config/default.json").path
        for (k, v) in environment { env[k] = v }
        process.environment = env
        log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // The port is in the "listening" log line.
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        var found: Int? = nil
        while found == nil && Date() < deadline {
            let chunk = log.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if text.contains("scored started") {
                ports = text.matches(of: /address=127\.0\.0\.1:(\d+)/).compactMap { Int($0.output.1) }
                found = ports.first
            }
        }
        guard let found else { throw CocoaError(.fileReadUnknown, userInfo: ["log": text]) }
        port = found
        logged.append(text)
        // Keep draining the log (and keep it) so the server never blocks on a full pipe.
        let handle = log.fileHandleForReading
        Thread { [logged] in
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                logged.append(String(decoding: d, as: UTF8.self))
            }
        }.start()
    }

    /// What it logged so far.
    var logText: String { logged.value }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Runs `scored` with these arguments to its end: its exit status and what it wrote to standard error.
    static func runToEnd(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite(.serialized) struct RestartTests {
    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("scored-restart-\(UUID().uuidString)")
    }

    /// SIGKILL during training: after a restart on the same directory the job resumes from its last saved
    /// state and finishes with all its steps; the finished job, its model and a queued job are intact.
    @Test func crashDuringTrainingResumes() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try ServerProcess(dataDir: dir)
        let small = http("POST", "\(a.base)/train", body: #"{"steps": 50, "model": {"hidden": [16]}}"#).json
        let smallID = try #require(small["id"]?.string)
        let done = waitForJob(a.base, smallID)
        let modelID = try #require(done["result"]?["model_id"]?.string)
        let steps = 6000
        let long = http("POST", "\(a.base)/train", body: #"{"steps": \#(steps), "batch_size": 256, "seed": 5}"#).json
        let id = try #require(long["id"]?.string)
        let queued = try #require(http("POST", "\(a.base)/train", body: #"{"steps": 30, "model": {"hidden": [16]}}"#).json["id"]?.string)
        // Let it run past a saved state, then kill the process outright.
        let state = dir.appendingPathComponent("states/\(id).safetensors")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: state.path) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 0.2)
        let before = http("GET", "\(a.base)/jobs/\(id)").json
        #expect(before["status"] == "running")
        a.kill9()

        let b = try ServerProcess(dataDir: dir)
        defer { _ = b.terminate() }
        let finished = waitForJob(b.base, id, timeout: 120)
        #expect(finished["status"] == "succeeded")
        #expect(finished["result"]?["steps"]?.number == Double(steps))
        #expect(finished["progress"]?["step"]?.number == Double(steps))
        #expect(finished["attempts"]?.number == 2)
        #expect(!FileManager.default.fileExists(atPath: state.path))
        // The loss series spans both runs: from the start, through the saved part, to the last step.
        let series = http("GET", "\(b.base)/jobs/\(id)/metrics").json
        let seriesSteps = series["step"]?.array?.compactMap(\.number) ?? []
        #expect(!seriesSteps.isEmpty && seriesSteps[0] < 1000 && seriesSteps.last == Double(steps), "\(seriesSteps)")
        #expect(zip(seriesSteps.dropFirst(), seriesSteps).allSatisfy { $0 > $1 })
        #expect(http("GET", "\(b.base)/jobs/\(smallID)").json["status"] == "succeeded")
        #expect(http("GET", "\(b.base)/models/\(modelID)").status == 200)
        #expect(http("GET", "\(b.base)/samples?model=\(modelID)&n=5&sampler=ode").json["points"]?.array?.count == 5)
        #expect(waitForJob(b.base, queued)["status"] == "succeeded")
    }

    /// SIGTERM: the process saves the running job's state, exits 0, and the job finishes after a restart.
    @Test func gracefulStopRequeues() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try ServerProcess(dataDir: dir)
        let id = try #require(http("POST", "\(a.base)/train", body: #"{"steps": 4000}"#).json["id"]?.string)
        let deadline = Date().addingTimeInterval(30)
        while http("GET", "\(a.base)/jobs/\(id)").json["progress"]?["step"]?.number ?? 0 < 200 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(a.terminate() == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("states/\(id).safetensors").path))
        let b = try ServerProcess(dataDir: dir)
        defer { _ = b.terminate() }
        let j = waitForJob(b.base, id)
        #expect(j["status"] == "succeeded" && j["result"]?["steps"]?.number == 4000)
    }
}

/// Text appended from one thread and read from others.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func append(_ s: String) { lock.lock(); text += s; lock.unlock() }
    var value: String { lock.lock(); defer { lock.unlock() }; return text }
}
