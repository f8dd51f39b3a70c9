import Foundation
import ScoreEngine
import ScoreService
import Testing

/// The API as a user walks through it: train, watch, sample with each sampler, download the checkpoint.
@Suite(.serialized) struct WalkthroughTests {
    @Test func trainWatchSampleDownload() throws {
        let h = try Harness()
        let base = h.base
        #expect(http("GET", "\(base)/healthz").json["status"] == "ok")
        let posted = http("POST", "\(base)/train", body: #"{"dataset": "swiss_roll", "steps": 400, "batch_size": 128, "model": {"hidden": [64, 64]}}"#)
        #expect(posted.status == 202)
        let id = try #require(posted.json["id"]?.string)
        #expect(posted.header("Location") == "/jobs/\(id)")
        // The event stream ends when the job does; each event is the job as JSON.
        let events = http("GET", "\(base)/jobs/\(id)/events")
        #expect(events.status == 200 && events.header("Content-Type") == "text/event-stream")
        let jobEvents = events.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("event: job") }
        // A short run may finish before the stream opens; then the stream carries the finished job alone.
        #expect(jobEvents.count >= 1)
        #expect(jobEvents.last?.contains("\"status\":\"succeeded\"") == true)
        #expect(events.text.contains("event: end\ndata: {\"status\":\"succeeded\"}"))
        let job = waitForJob(base, id)
        #expect(job["status"] == "succeeded")
        #expect(job["progress"]?["step"]?.number == 400 && job["progress"]?["total"]?.number == 400)
        let modelID = try #require(job["result"]?["model_id"]?.string)
        let models = http("GET", "\(base)/models").json["models"]?.array ?? []
        #expect(models.contains { $0["id"]?.string == modelID })
        let model = http("GET", "\(base)/models/\(modelID)").json
        #expect(model["default_sampler"] == "dpm_solver" && model["dataset"] == "swiss_roll")

        for sampler in ["em", "pc", "ode", "dpm_solver", "heun", "edm", "ddim"] {
            let r = http("GET", "\(base)/samples?model=\(modelID)&sampler=\(sampler)&n=64&seed=3&steps=\(sampler == "ode" ? "" : "100")"
                .replacingOccurrences(of: "&steps=&", with: "&").replacingOccurrences(of: "&steps=", with: sampler == "ode" ? "" : "&steps="))
            #expect(r.status == 200, "\(sampler): \(r.text.prefix(200))")
            #expect(r.header("Content-Type") == "application/json")
            let points = r.json["points"]?.array ?? []
            #expect(points.count == 64 && points.allSatisfy { $0.array?.count == 2 })
            #expect((r.json["nfe"]?.number ?? 0) > 0, "\(sampler)")
            #expect(r.header("X-Job-Id") != nil)
        }
        // The same request again gives the same samples (sample i depends only on the seed and i).
        let a = http("GET", "\(base)/samples?model=\(modelID)&sampler=em&n=8&seed=9&steps=50").json["points"]
        let b = http("GET", "\(base)/samples?model=\(modelID)&sampler=em&n=8&seed=9&steps=50").json["points"]
        #expect(a == b && a != nil)

        let ckpt = http("GET", "\(base)/models/\(modelID)/checkpoint")
        #expect(ckpt.status == 200)
        let (loaded, meta) = try ScoreModel.load(checkpoint: ckpt.body)
        #expect(meta["model_id"] == modelID && loaded.sampleShape == [2])
        #expect(try Safetensors.read(ckpt.body)["net.0.weight"]?.shape == [64, 2 + 32])

        // wait=false: 202 and the job; its result afterwards.
        let q = http("GET", "\(base)/samples?model=\(modelID)&n=10&wait=false&sampler=ode")
        #expect(q.status == 202)
        let sid = try #require(q.json["id"]?.string)
        #expect(waitForJob(base, sid)["status"] == "succeeded")
        #expect(http("GET", "\(base)/jobs/\(sid)/result").json["points"]?.array?.count == 10)

        let metrics = http("GET", "\(base)/metrics").text
        #expect(metrics.contains(#"scored_http_requests_total{route="/samples",method="GET",status="200"}"#))
        #expect(metrics.contains(#"scored_jobs{state="succeeded"}"#))
        #expect(metrics.contains("scored_http_request_duration_seconds_bucket"))
        #expect(metrics.contains(#"scored_queue_depth{lane="train"} 0"#))
    }

    @Test func validationNamesTheField() throws {
        let h = try Harness()
        let base = h.base
        let cases: [(String, String)] = [
            (#"{"steps": 0}"#, "steps"), (#"{"steps": "many"}"#, "steps"), (#"{"stepz": 1}"#, "stepz"),
            (#"{"dataset": "nope"}"#, "dataset"), (#"{"model": {"activation": "cosine"}}"#, "model.activation"),
            (#"{"learning_rate": 5}"#, "learning_rate"), (#"{"objective": "exact", "sigma": 0.1}"#, "sigma"),
            (#"{"ema": 1}"#, "ema"), (#"{"batch_size": 1.5}"#, "batch_size"), (#"[1]"#, "body"),
        ]
        for (body, field) in cases {
            let r = http("POST", "\(base)/train", body: body)
            #expect(r.status == 400, "\(body)")
            #expect(r.json["error"]?["field"]?.string == field, "\(body): \(r.text)")
        }
        let bad = http("POST", "\(base)/train", body: "{not json")
        #expect(bad.status == 400 && bad.json["error"]?["code"] == "invalid_json")
        #expect(http("GET", "\(base)/samples").json["error"]?["field"] == "model")
        #expect(http("GET", "\(base)/samples?model=m_none").status == 404)
        #expect(http("GET", "\(base)/jobs/j_none").status == 404)
        #expect(http("GET", "\(base)/jobs?status=sleeping").json["error"]?["field"] == "status")
        let wrong = http("DELETE", "\(base)/train")
        #expect(wrong.status == 405 && wrong.header("Allow") == "POST")
        #expect(http("GET", "\(base)/nothing/here").status == 404)
        // Nothing was queued by the refused requests.
        #expect(http("GET", "\(base)/jobs").json["jobs"]?.array?.isEmpty == true)
    }

    @Test func idempotencyCancellationAndQueueLimit() throws {
        let h = try Harness { $0.maxQueuedJobs = 2; $0.workers[.train] = 1 }
        let base = h.base
        let long = #"{"steps": 1000000, "model": {"hidden": [8]}, "batch_size": 8}"#
        let first = http("POST", "\(base)/train", body: long, headers: ["Idempotency-Key": "k1"])
        let again = http("POST", "\(base)/train", body: long, headers: ["Idempotency-Key": "k1"])
        #expect(first.status == 202 && again.status == 200)
        #expect(first.json["id"] == again.json["id"])
        let id = try #require(first.json["id"]?.string)
        // Wait until it runs, then fill the queue: the third queued job is refused.
        for _ in 0..<100 where http("GET", "\(base)/jobs/\(id)").json["status"] != "running" { Thread.sleep(forTimeInterval: 0.05) }
        #expect(http("POST", "\(base)/train", body: long).status == 202)
        #expect(http("POST", "\(base)/train", body: long).status == 202)
        let refused = http("POST", "\(base)/train", body: long)
        #expect(refused.status == 429 && refused.header("Retry-After") != nil)
        // A sampling lane request is still answered while training runs.
        let ds = http("POST", "\(base)/datasets?name=tri", body: "x,y\n0,0\n1,0\n0,1\n", headers: ["Content-Type": "text/csv"])
        #expect(ds.status == 201 && ds.json["count"]?.number == 3)
        let dsID = try #require(ds.json["id"]?.string)
        #expect(http("GET", "\(base)/datasets").json["datasets"]?.array?.contains { $0["id"]?.string == dsID } == true)
        #expect(http("GET", "\(base)/datasets/\(dsID)/points").json["points"]?.array?.count == 3)
        // Cancel the running job and a queued one.
        let canceled = http("POST", "\(base)/jobs/\(id)/cancel")
        #expect(canceled.status == 200)
        #expect(waitForJob(base, id, timeout: 10)["status"] == "canceled")
        let queued = http("GET", "\(base)/jobs?status=queued").json["jobs"]?.array ?? []
        let qid = try #require(queued.first?["id"]?.string)
        #expect(http("POST", "\(base)/jobs/\(qid)/cancel").json["status"] == "canceled")
        for j in http("GET", "\(base)/jobs").json["jobs"]?.array ?? [] {
            if let jid = j["id"]?.string, j["status"] != "canceled" { _ = http("POST", "\(base)/jobs/\(jid)/cancel") }
        }
        #expect(http("DELETE", "\(base)/jobs/\(id)").status == 204)
        #expect(http("GET", "\(base)/jobs/\(id)").status == 404)
        #expect(http("DELETE", "\(base)/datasets/swiss_roll").status == 409)
        #expect(http("DELETE", "\(base)/datasets/\(dsID)").status == 204)
    }

    /// Jobs and models past the retention time are deleted with their files.
    @Test func retention() throws {
        let h = try Harness { $0.retentionHours = 1 }
        let base = h.base
        let id = try #require(http("POST", "\(base)/train", body: #"{"steps": 20, "model": {"hidden": [8]}}"#).json["id"]?.string)
        let job = waitForJob(base, id)
        let model = try #require(job["result"]?["model_id"]?.string)
        h.service.sweepForTesting(now: Date().timeIntervalSince1970 + 1800)
        #expect(http("GET", "\(base)/jobs/\(id)").status == 200)
        h.service.sweepForTesting(now: Date().timeIntervalSince1970 + 7200)
        #expect(http("GET", "\(base)/jobs/\(id)").status == 404)
        #expect(http("GET", "\(base)/models/\(model)").status == 404)
        #expect(!FileManager.default.fileExists(atPath: h.dir.appendingPathComponent("checkpoints/\(model).safetensors").path))
    }
}
