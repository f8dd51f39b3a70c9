import Foundation
import ScoreEngine
import ScoreService
import TestSupport
import Testing

/// Samples that stream while they are made, and previews on the event stream.
@Suite(.serialized) struct StreamingTests {
    static func train(_ base: String, _ body: String) throws -> String {
        let job = waitForJob(base, try #require(http("POST", "\(base)/train", body: body).json["id"]?.string))
        return try #require(job["result"]?["model_id"]?.string)
    }

    /// Over a raw socket: the first group of a streamed answer arrives while its job is still running, the groups
    /// add up to n samples, the summary line ends it; a client that leaves after the first group cancels the job.
    @Test func groupsArriveWhileTheJobRuns() throws {
        let h = try Harness()
        let base = h.base, port = h.service.port
        let model = try Self.train(base, #"{"steps": 200, "model": {"hidden": [32, 32]}}"#)
        // One sampling thread (the harness's setting): 2048 points in four groups of 512, one after the other.
        let c = try RawClient(port: port)
        c.send("GET /samples?model=\(model)&sampler=pc&steps=3000&n=2048&stream=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let head = c.read(until: "\"first\"", timeout: 60)
        #expect(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Type: application/x-ndjson") && head.contains("Transfer-Encoding: chunked"))
        let jobID = try #require(head.components(separatedBy: "X-Job-Id: ").dropFirst().first?.prefix { !$0.isWhitespace })
        #expect(http("GET", "\(base)/jobs/\(jobID)").json["status"] == "running", "the first group came before the job ended")
        let rest = head + c.read(until: "\"done\":true", timeout: 60)
        // (Swift reads "\r\n" as one character: the chunk framing's line ends are normalised first.)
        let lines = rest.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { try? JSONValue(parsing: String($0)) }
        let groups = lines.filter { $0["first"] != nil }
        #expect(groups.count == 4)
        #expect(groups.reduce(0) { $0 + ($1["points"]?.array?.count ?? 0) } == 2048)
        #expect(Set(groups.compactMap { $0["first"]?.number }) == [0, 512, 1024, 1536])
        let done = try #require(lines.last)
        #expect(done["done"] == true && done["nfe"] == 6000 && done["sampler"] == "pc")
        #expect(waitForJob(base, String(jobID))["status"] == "succeeded")

        // Leaving after the first group cancels the rest.
        let d = try RawClient(port: port)
        d.send("GET /samples?model=\(model)&sampler=pc&steps=3000&n=2048&stream=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let first = d.read(until: "\"first\"", timeout: 60)
        let leaving = try #require(first.components(separatedBy: "X-Job-Id: ").dropFirst().first?.prefix { !$0.isWhitespace })
        d.close()
        #expect(waitForJob(base, String(leaving), timeout: 20)["status"] == "canceled")

        // Streaming needs waiting, and a grid cannot stream.
        #expect(http("GET", "\(base)/samples?model=\(model)&stream=true&wait=false").json["error"]?["field"] == "stream")
    }

    /// Image models stream multipart/mixed PGM parts; sampling jobs asked for previews publish them on the event
    /// stream: points as positions, images as a PNG grid of the denoised estimates.
    @Test func imagePartsAndPreviews() throws {
        let h = try Harness { $0.workers[.sample] = 1 }
        let base = h.base
        let points = try Self.train(base, #"{"steps": 100, "model": {"hidden": [16]}}"#)
        // The job is queued behind a long one (one sampling worker), so that its event stream is open before it
        // starts; the long one is then canceled.
        let blocker = try #require(http("GET", "\(base)/samples?model=\(points)&sampler=pc&steps=100000&n=2048&wait=false").json["id"]?.string)
        let queued = http("GET", "\(base)/samples?model=\(points)&sampler=dpm_solver&steps=20&n=300&wait=false&preview_every=5")
        let job = try #require(queued.json["id"]?.string)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { _ = http("POST", "\(base)/jobs/\(blocker)/cancel") }
        let events = http("GET", "\(base)/jobs/\(job)/events").text
        let previews = events.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: preview") }
            .compactMap { try? JSONValue(parsing: String($0.dropFirst("event: preview\ndata: ".count))) }
        #expect(!previews.isEmpty && previews.allSatisfy { $0["points"]?.array?.count == 300 && $0["total"] == 20 })
        #expect(previews.last?["step"] == 20)
        // Opened after the job ended, its event stream still shows the last preview (kept with the job).
        let after = http("GET", "\(base)/jobs/\(job)/events").text
        let kept = after.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: preview") }
            .compactMap { try? JSONValue(parsing: String($0.dropFirst("event: preview\ndata: ".count))) }
        #expect(kept.count == 1 && kept.first?["step"] == 20 && after.contains("event: end"))

        let images = try Self.train(base, #"{"dataset": "mnist", "steps": 2, "batch_size": 4, "model": {"channels": [4, 8, 8, 8], "time_features": 8}}"#)
        let c = try RawClient(port: h.service.port)
        c.send("GET /samples?model=\(images)&sampler=euler&steps=4&n=32&stream=true HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let body = c.read(until: "--scored-samples--", timeout: 60)
        #expect(body.contains("Content-Type: multipart/mixed; boundary=scored-samples"))
        #expect(body.components(separatedBy: "Content-Type: image/x-portable-graymap").count - 1 == 4, "four parts of 8 images")
        #expect(body.contains("X-First-Row: 24") && body.contains("\"done\":true"))
        // Queued behind a long job again, so that the stream is open before it starts (four steps take milliseconds).
        let blocker2 = try #require(http("GET", "\(base)/samples?model=\(points)&sampler=pc&steps=100000&n=2048&wait=false").json["id"]?.string)
        let q = http("GET", "\(base)/samples?model=\(images)&sampler=euler&steps=4&n=4&wait=false&preview_every=2")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { _ = http("POST", "\(base)/jobs/\(blocker2)/cancel") }
        let ev = http("GET", "\(base)/jobs/\(try #require(q.json["id"]?.string))/events").text
        let preview = try #require(ev.components(separatedBy: "\n\n").first { $0.hasPrefix("event: preview") })
        let json = try JSONValue(parsing: String(preview.dropFirst("event: preview\ndata: ".count)))
        let encoded = try #require(json["png"]?.string)
        let png = try #require(Data(base64Encoded: encoded))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] && json["denoised"] == true)
    }
}
