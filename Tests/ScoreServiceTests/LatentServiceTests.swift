import Foundation
import ScoreEngine
import ScoreService
import Testing

/// Imputation and latent codes through the API: known coordinates kept exactly, an encoding decoded back to
/// its input, interpolation between latents, and the refusals.
@Suite(.serialized) struct LatentServiceTests {
    @Test func imputeEncodeDecodeInterpolate() throws {
        let h = try Harness { $0.threads = [.train: 2, .sample: 2] }
        let base = h.base
        let model = try GuidanceServiceTests.train(base, #"{"dataset": "8gaussians", "steps": 1500}"#)
        // Imputation: n completions of each point, in order, the known coordinates as sent.
        let imputed = http("POST", "\(base)/impute?model=\(model)&n=50", body: #"{"points": [[2.83, null], [null, -2.83], [null, null]]}"#)
        #expect(imputed.status == 200 && imputed.json["sampler"] == "pc" && imputed.json["n"] == 150 && imputed.json["n_per_point"] == 50, "\(imputed.text.prefix(300))")
        let imputedJob = try #require(imputed.header("X-Job-Id"))
        // A retried POST with its Idempotency-Key gets the job (and result) the first one made.
        let once = http("POST", "\(base)/impute?model=\(model)&n=5", body: #"{"points": [[1, null]]}"#, headers: ["Idempotency-Key": "retry-1"])
        let again = http("POST", "\(base)/impute?model=\(model)&n=5", body: #"{"points": [[1, null]]}"#, headers: ["Idempotency-Key": "retry-1"])
        #expect(once.status == 200 && again.status == 200 && once.header("X-Job-Id") != nil && once.header("X-Job-Id") == again.header("X-Job-Id"))
        #expect(once.json["points"] == again.json["points"])
        let other = http("POST", "\(base)/impute?model=\(model)&n=5", body: #"{"points": [[1, null]]}"#, headers: ["Idempotency-Key": "retry-2"])
        #expect(other.header("X-Job-Id") != once.header("X-Job-Id"))
        // The same key on another route is that route's own.
        let elsewhere = http("POST", "\(base)/encode?model=\(model)", body: #"{"points": [[1, 2]]}"#, headers: ["Idempotency-Key": "retry-1"])
        #expect(elsewhere.status == 200 && elsewhere.json["latent"]?.array?.count == 1 && elsewhere.header("X-Job-Id") != once.header("X-Job-Id"))
        let p = try #require(imputed.json["points"]?.array).map { $0.array!.map { $0.number! } }
        #expect(p[0..<50].allSatisfy { Float($0[0]) == Float(2.83) } && p[50..<100].allSatisfy { Float($0[1]) == Float(-2.83) })
        #expect(Set(p[0..<50].map { $0[1] }).count > 40 && Set(p[100..<150].map { $0[0] }).count > 40)
        for (query, body, field) in [("sampler=sideways", #"{"points": [[1, null]]}"#, "sampler"),
                                     ("", #"{"points": [[1, null, 2]]}"#, "body"),
                                     ("", #"{"points": [[1, "x"]]}"#, "body"),
                                     ("", #"{"points": []}"#, "body")] {
            let r = http("POST", "\(base)/impute?model=\(model)&\(query)", body: body)
            #expect(r.status == 400 && r.json["error"]?["field"] == .string(field), "\(query) \(body): \(r.text)")
        }
        // Encoding then decoding returns the input within the solver's tolerance.
        let points = [[2.83, 0.1], [-1.0, 2.0], [0.3, -2.5]]
        let body = "{\"points\": \(points)}"
        let encoded = http("POST", "\(base)/encode?model=\(model)&rtol=1e-6&atol=1e-6", body: body)
        #expect(encoded.status == 200, "\(encoded.text)")
        let latent = try #require(encoded.json["latent"]?.array)
        #expect(latent.count == 3 && encoded.json["bits_per_dim"]?.array?.count == 3)
        let decoded = http("POST", "\(base)/decode?model=\(model)&rtol=1e-6&atol=1e-6", body: JSONValue.object(["latent": .array(latent)]).serialized)
        #expect(decoded.status == 200, "\(decoded.text)")
        let back = try #require(decoded.json["points"]?.array).map { $0.array!.map { $0.number! } }
        for (a, b) in zip(points, back) { for j in 0..<2 { #expect(abs(a[j] - b[j]) < 2e-3, "\(a) decoded as \(b)") } }
        // Interpolation: the ends are the decoded latents.
        let a = latent[0].array!.map { $0.number! }, b = latent[2].array!.map { $0.number! }
        let q = "a=\(a.map { String($0) }.joined(separator: ","))&b=\(b.map { String($0) }.joined(separator: ","))"
        let path = http("GET", "\(base)/interpolate?model=\(model)&\(q)&n=5&rtol=1e-6&atol=1e-6")
        let rows = try #require(path.json["points"]?.array).map { $0.array!.map { $0.number! } }
        #expect(rows.count == 5)
        for j in 0..<2 { #expect(abs(rows[0][j] - points[0][j]) < 2e-3 && abs(rows[4][j] - points[2][j]) < 2e-3, "\(rows)") }
        let posted = http("POST", "\(base)/interpolate?model=\(model)&n=5&rtol=1e-6&atol=1e-6", body: JSONValue.object(["a": latent[0], "b": latent[2]]).serialized)
        #expect(posted.json["points"] == path.json["points"])
        // Between two encoded inputs: the encode job's items by position give the same path.
        let job = try #require(encoded.header("X-Job-Id"))
        let fromJob = http("GET", "\(base)/interpolate?model=\(model)&encoded=\(job)&items=0,2&n=5&rtol=1e-6&atol=1e-6")
        #expect(fromJob.status == 200 && fromJob.json["points"] == path.json["points"], "\(fromJob.text.prefix(300))")
        // Without a model named, the encoding job's decodes them.
        let byItsModel = http("GET", "\(base)/interpolate?encoded=\(job)&items=0,2&n=5&rtol=1e-6&atol=1e-6")
        #expect(byItsModel.status == 200 && byItsModel.json["points"] == path.json["points"] && byItsModel.header("X-Model-Id") == model)
        let missing = http("GET", "\(base)/interpolate?model=\(model)&encoded=j_nothere")
        #expect(missing.status == 404 && missing.json["error"]?["field"] == "encoded", "\(missing.text)")
        for (method, url, body, field) in [("GET", "interpolate?model=\(model)&a=1,2", nil, "b"),
                                           ("GET", "interpolate?model=\(model)&encoded=\(job)&a=1,2", nil, "a"),
                                           ("GET", "interpolate?model=\(model)&encoded=\(job)&items=0,3", nil, "items"),
                                           ("GET", "interpolate?model=\(model)&encoded=\(imputedJob)", nil, "encoded"),
                                           ("GET", "interpolate?model=\(model)&a=1,2&b=3,4&items=0,1", nil, "items"),
                                           ("GET", "interpolate?model=\(model)&a=1,2&b=1,2,3", nil, "b"),
                                           ("POST", "decode?model=\(model)&sampler=pc", #"{"latent": [[1, 2]]}"#, "sampler"),
                                           ("POST", "decode?model=\(model)", #"{"latent": [[1, 2, 3]]}"#, "latent"),
                                           ("POST", "decode?model=\(model)", #"{"latent": "x"}"#, "latent"),
                                           ("POST", "encode?model=\(model)", #"{"points": [[1, 2, 3]]}"#, "body"),
                                           ("POST", "encode?model=\(model)&divergence=sideways", #"{"points": [[1, 2]]}"#, "divergence")] as [(String, String, String?, String)] {
            let r = http(method, "\(base)/\(url)", body: body)
            #expect(r.status == 400 && r.json["error"]?["field"] == .string(field), "\(url): \(r.text)")
        }
    }
}
