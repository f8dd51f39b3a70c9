import Foundation
import ScoreEngine
import ScoreService
import TestSupport
import Testing

/// Colour images through the API: the built-in coloured MNIST, a colour model's samples as PNG and PPM,
/// colorization of a grey image keeping its grey level, uploads of PNG and PPM, and the refusals (a
/// decompression bomb is 413).
@Suite(.serialized) struct ColourServiceTests {
    @Test func colourModelsColorizeAndUpload() throws {
        let h = try Harness { $0.threads = [.train: 2, .sample: 2] }
        let base = h.base
        let listed = http("GET", "\(base)/datasets/colored_mnist").json
        #expect(listed["shape"] == [3, 28, 28] && listed["classes"] == 10)
        let model = try GuidanceServiceTests.train(base, #"{"dataset": "colored_mnist", "steps": 2, "model": {"channels": [4, 8, 8, 8], "time_features": 8}}"#)
        let info = http("GET", "\(base)/models/\(model)").json
        #expect(info["data_shape"] == [3, 28, 28])
        // The default format of a colour model is PNG (one image: the grid), PPM on request; PGM is refused.
        let png = http("GET", "\(base)/samples?model=\(model)&n=4&steps=3")
        #expect(png.status == 200 && png.header("Content-Type") == "image/png", "\(png.text.prefix(200))")
        #expect(try ImageCodec.read(Array(png.body)).shape == [1, 3, 2 * 28 + 6, 2 * 28 + 6])
        let ppm = http("GET", "\(base)/samples?model=\(model)&n=3&steps=3&format=ppm")
        #expect(ppm.status == 200 && ppm.header("Content-Type") == "image/x-portable-pixmap")
        #expect(try ImageCodec.read(Array(ppm.body)).shape == [3, 3, 28, 28])
        #expect(http("GET", "\(base)/samples?model=\(model)&format=pgm").json["error"]?["field"] == "format")
        // Colorization: a grey digit in, colour images out whose channel mean is the grey level.
        let digit = try MNIST.load(.test, from: Harness.repository.appendingPathComponent("datasets/mnist")).rows(0..<1)
        let colored = http("POST", "\(base)/colorize?model=\(model)&n=2&steps=5&format=json", data: Data(ImageCodec.pgm(digit)),
                           headers: ["Content-Type": "image/x-portable-graymap"])
        #expect(colored.status == 200, "\(colored.text.prefix(300))")
        let rows = try #require(colored.json["points"]?.array).map { $0.array!.map { Float($0.number!) } }
        #expect(rows.count == 2)
        for r in rows {
            for p in stride(from: 0, to: 784, by: 7) {
                let level = (r[p] + r[784 + p] + r[1568 + p]) / 3
                #expect(abs(level - digit.scalars[p]) < 1e-4, "pixel \(p): \(level) vs \(digit.scalars[p])")
            }
        }
        #expect(rows[0] != rows[1])
        // Colorization needs a colour model.
        let grey = try GuidanceServiceTests.train(base, #"{"dataset": "mnist", "steps": 2, "model": {"channels": [4, 8, 8, 8], "time_features": 8}}"#)
        let refused = http("POST", "\(base)/colorize?model=\(grey)&n=1", data: Data(ImageCodec.pgm(digit)), headers: ["Content-Type": "image/x-portable-graymap"])
        #expect(refused.status == 400 && refused.json["error"]?["field"] == "model", "\(refused.text)")
        // Uploads: a PPM set, a PNG image; a malformed PNG is 400, a decompression bomb 413.
        let colourImages = ColoredMNIST.tint(try MNIST.load(.test, from: Harness.repository.appendingPathComponent("datasets/mnist")).rows(0..<3), seed: 9)
        let up = http("POST", "\(base)/datasets?name=tinted", data: Data(Gzip.compress(ImageCodec.pnm(colourImages))), headers: ["Content-Type": "application/gzip"])
        #expect(up.status == 201 && up.json["shape"] == [3, 28, 28] && up.json["count"] == 3, "\(up.text)")
        let onePNG = PNG.image(ImageCodec.interleaved(colourImages, 0), width: 28, height: 28, channels: 3)
        #expect(http("POST", "\(base)/datasets?name=one", data: Data(onePNG), headers: ["Content-Type": "image/png"]).status == 201)
        var broken = onePNG
        broken[broken.count / 2] ^= 0x5A
        let bad = http("POST", "\(base)/datasets?name=bad", data: Data(broken), headers: ["Content-Type": "image/png"])
        #expect(bad.status == 400 && bad.json["error"]?["field"] == "body", "\(bad.text)")
        // An archive of class folders: labels from the folder names.
        let archive = try Data(contentsOf: Harness.repository.appendingPathComponent("Tests/ScoreEngineTests/Fixtures/tar/sets.tar.gz"))
        let sets = http("POST", "\(base)/datasets?name=pets", data: archive, headers: ["Content-Type": "application/gzip"])
        #expect(sets.status == 201 && sets.json["classes"] == 2 && sets.json["class_names"] == ["cats", "dogs"] && sets.json["count"] == 5, "\(sets.text)")
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 48 << 20), level: 9)
        let big = http("POST", "\(base)/inpaint?model=\(model)&rect=0,0,5,5", data: Data(bomb), headers: ["Content-Type": "application/gzip"])
        #expect(big.status == 413, "\(big.text)")
        // A large upload (the MNIST test images, 1.6 MB of gzip, past the 1 MiB spool threshold) is read and
        // inflated as it arrives.
        let idx = try Data(contentsOf: Harness.repository.appendingPathComponent("datasets/mnist/t10k-images-idx3-ubyte.gz"))
        let large = http("POST", "\(base)/datasets?name=t10k", data: idx, headers: ["Content-Type": "application/gzip"])
        #expect(large.status == 201 && large.json["shape"] == [1, 28, 28] && large.json["count"] == 10000, "\(large.text)")
        // A refusal comes before the body: a large body of a media type not taken is answered 415 while its client
        // is still sending (8 MiB announced, 100 kB sent).
        let raw = try RawClient(port: URL(string: base)!.port!)
        raw.send("POST /datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: \(8 << 20)\r\n\r\n")
        raw.send([UInt8](repeating: 65, count: 100_000))
        let early = raw.read(until: "unsupported_media_type")
        #expect(early.hasPrefix("HTTP/1.1 415 ") && early.contains("Connection: close"), "\(early.prefix(300))")
    }
}
