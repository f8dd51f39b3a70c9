import Foundation
import ScoreEngine
import TestSupport
import Testing

/// curl with the given arguments; the body and the status (`-w`), or the exit code when curl itself fails.
func curl(_ args: [String], timeout: Double = 60) throws -> (status: Int, body: String, exit: Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["curl", "-sS", "--max-time", String(Int(timeout)), "-w", "\n%{http_code}"] + args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    let status = Int(text.split(separator: "\n").last ?? "") ?? 0
    let body = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().joined(separator: "\n")
    return (status, body, p.terminationStatus)
}

/// The service over HTTPS as a user runs it: `scored serve --tls-certificate … --tls-private-key …` with a
/// certificate made here by `openssl`, driven by curl with `--cacert`; SIGHUP swaps the certificate under open
/// connections.
@Suite(.serialized) struct HTTPSTests {
    @Test func walkthroughOverTLS() throws {
        let certs = try TestCertificates()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scored-https-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try ServerProcess(dataDir: dir, arguments: ["--tls-certificate", certs.certificate, "--tls-private-key", certs.privateKey,
                                                                 "--tls-plain-listen", "127.0.0.1:0"])
        let base = "https://localhost:\(server.port)"
        let ca = ["--cacert", certs.caFile]
        #expect(try curl(ca + ["\(base)/healthz"]).body.contains(#""status":"ok""#))
        // Without the CA the certificate is not trusted; plain HTTP on the HTTPS port gets no answer.
        #expect(try curl(["\(base)/healthz"]).exit != 0)
        #expect(try curl(["http://127.0.0.1:\(server.port)/healthz"]).status == 0)
        // The plain listener beside it answers health checks.
        #expect(server.ports.count == 2)
        #expect(try curl(["http://127.0.0.1:\(server.ports[1])/healthz"]).body.contains(#""status":"ok""#))

        let posted = try curl(ca + ["-X", "POST", "-H", "Content-Type: application/json", "-d",
                                    #"{"dataset": "swiss_roll", "steps": 300, "batch_size": 128, "model": {"hidden": [32, 32]}}"#, "\(base)/train"])
        #expect(posted.status == 202)
        let id = try #require(try JSONValue(parsing: Array(posted.body.utf8))["id"]?.string)
        let events = try curl(ca + ["-N", "\(base)/jobs/\(id)/events"])
        #expect(events.status == 200 && events.body.contains(#"event: end"#) && events.body.contains(#""status":"succeeded""#))
        let job = try JSONValue(parsing: Array(try curl(ca + ["\(base)/jobs/\(id)"]).body.utf8))
        let model = try #require(job["result"]?["model_id"]?.string)
        let samples = try curl(ca + ["\(base)/samples?model=\(model)&sampler=ode&n=16&seed=1"])
        #expect(samples.status == 200)
        #expect(try JSONValue(parsing: Array(samples.body.utf8))["points"]?.array?.count == 16)
        let streamed = try curl(ca + ["-N", "\(base)/samples?model=\(model)&n=40&seed=1&stream=true"])
        #expect(streamed.status == 200 && streamed.body.contains(#""done":true"#))
        let file = dir.appendingPathComponent("model.safetensors").path
        #expect(try curl(ca + ["-o", file, "\(base)/models/\(model)/checkpoint"]).status == 200)
        #expect((try? ScoreModel.load(checkpoint: try Data(contentsOf: URL(fileURLWithPath: file)))) != nil)
        // TLS 1.1 is refused.
        #expect(try curl(ca + ["--tlsv1.1", "--tls-max", "1.1", "\(base)/healthz"]).exit != 0)

        // SIGHUP: a new certificate for new connections; the open one goes on.
        let open = try TLSClient(port: server.port, caFile: certs.caFile)
        let old = open.peerFingerprint
        try certs.issue(name: "server")
        let renewed = try certs.fingerprint(certs.certificate)
        kill(server.process.processIdentifier, SIGHUP)
        var served = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            served = try TLSClient(port: server.port, caFile: certs.caFile).peerFingerprint
            if served == renewed { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(served == renewed && renewed != old)
        open.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(open.read(until: "\"ok\"").hasPrefix("HTTP/1.1 200"))
        #expect(server.terminate() == 0)
    }

    /// A bad certificate or key stops `scored serve` at start with a message that names the file.
    @Test func startupRefusals() throws {
        let certs = try TestCertificates()
        for (args, words) in [(["--tls-certificate", "/nonexistent.pem", "--tls-private-key", certs.privateKey], "no such file"),
                              (["--tls-certificate", certs.certificate], "must be given together"),
                              (["--tls-certificate", certs.certificate, "--tls-private-key", certs.caFile], "not a PEM private key")] {
            let (status, text) = try ServerProcess.runToEnd(["serve", "--port", "0", "--data-dir", certs.directory.appendingPathComponent("data").path] + args)
            #expect(status != 0 && text.contains(words), "\(args): \(text)")
        }
    }
}
