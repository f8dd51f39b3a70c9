import Foundation
import ScoreEngine
import Testing

/// Colour images in and out: PNG fixtures written by Python's standard library (every colour type we read,
/// every filter type) decoded sample for sample; the PNG kinds we refuse, refused; PPM and PNG round trips;
/// malformed and oversized input refused with the reason.
@Suite struct ColourCodecTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/png")
    static func fixture(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: directory.appendingPathComponent(name))) }
    static func value(_ x: Int, _ y: Int, _ c: Int) -> Float { Float((37 * x + 91 * y + 53 * c + 11) % 256) }

    @Test(arguments: [("grey", 1), ("rgb", 3), ("grey_alpha", 1), ("rgba", 3)])
    func pythonFixturesDecode(name: String, channels: Int) throws {
        let x = try ImageCodec.read(Self.fixture("\(name).png"))
        #expect(x.shape == [1, channels, 5, 7])
        for c in 0..<channels { for y in 0..<5 { for px in 0..<7 {
            #expect((x.scalars[(c * 5 + y) * 7 + px] * 255).rounded() == Self.value(px, y, c), "\(name) (\(px), \(y)) channel \(c)")
        } } }
    }

    @Test func refusedPNGKindsSayWhy() throws {
        for (name, reason) in [("palette", "palette"), ("interlaced", "interlaced"), ("sixteen_bit", "bit depth")] {
            #expect { try ImageCodec.read(Self.fixture("\(name).png")) } throws: { ($0 as? ImageCodec.Invalid)?.description.contains(reason) ?? false }
        }
        var broken = try Self.fixture("rgb.png")
        broken[40] ^= 0xFF  // inside IDAT: its CRC no longer matches
        #expect(throws: ImageCodec.Invalid.self) { try ImageCodec.read(broken) }
        let cut = Array(try Self.fixture("rgb.png").prefix(50))
        #expect(throws: ImageCodec.Invalid.self) { try ImageCodec.read(cut) }
    }

    /// 8-bit levels of values in [0, 1] (the codecs scale by 1/255, the test draws k/255).
    static func levels(_ t: Tensor) -> [Int] { t.scalars.map { Int(($0 * 255).rounded()) } }

    @Test func ppmAndPNGRoundTrips() throws {
        var rng = Philox(seed: 3)
        let x = Tensor(shape: [3, 3, 6, 5], scalars: (0..<270).map { _ in (rng.uniform() * 255).rounded() / 255 })
        let ppm = ImageCodec.pnm(x)
        #expect(ppm.starts(with: Array("P6\n5 6\n255\n".utf8)))
        #expect(Self.levels(try ImageCodec.read(ppm)) == Self.levels(x))
        #expect(Self.levels(try ImageCodec.read(Gzip.compress(ppm))) == Self.levels(x))
        let one = x.rows(1..<2)
        let png = PNG.image(ImageCodec.interleaved(one, 0), width: 5, height: 6, channels: 3)
        #expect(Self.levels(try ImageCodec.read(png)) == Self.levels(one))
        // A grid of colour images is an RGB PNG of the tiles.
        let grid = try ImageCodec.read(PNG.grid(x, columns: 3))
        #expect(grid.shape == [1, 3, 6 + 4, 3 * 5 + 8])
        // P5 and P6 do not mix in one set.
        let mixed = ImageCodec.pnm(x.rows(0..<1)) + ImageCodec.pnm(Tensor(shape: [1, 1, 6, 5], scalars: [Float](repeating: 0.5, count: 30)))
        #expect(throws: ImageCodec.Invalid.self) { try ImageCodec.read(mixed) }
    }

    @Test func decompressionBombIsTooLarge() {
        // 64 MiB of zeros in a few hundred kilobytes of gzip, against limits allowing 1 image of 28×28.
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(bomb.count < 1 << 20)
        #expect(throws: ImageCodec.TooLarge.self) { try ImageCodec.read(bomb, limits: .init(maxImages: 1, maxSide: 28)) }
    }

    @Test func coloredMNISTKeepsTheDigit() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("datasets")
        let grey = try #require(try BuiltinDatasets.load("mnist_test", size: 0, seed: 0, directory: dir)).rows(0..<20)
        let colour = ColoredMNIST.tint(grey, seed: 2)
        #expect(colour.shape == [20, 3, 28, 28])
        #expect(BuiltinDatasets.itemShape("colored_mnist") == [3, 28, 28] && BuiltinDatasets.classes("colored_mnist") == 10)
        // Each image is background + g·(stroke − background): its channels are affine in the grey level.
        for k in 0..<20 {
            let hw = 784
            let lo = (0..<hw).min { grey.scalars[k * hw + $0] < grey.scalars[k * hw + $1] }!
            let hi = (0..<hw).max { grey.scalars[k * hw + $0] < grey.scalars[k * hw + $1] }!
            let g0 = grey.scalars[k * hw + lo], g1 = grey.scalars[k * hw + hi]
            for c in 0..<3 {
                let b0 = colour.scalars[(k * 3 + c) * hw + lo], b1 = colour.scalars[(k * 3 + c) * hw + hi]
                for p in stride(from: 0, to: hw, by: 37) {
                    let g = grey.scalars[k * hw + p]
                    let expected = b0 + (g - g0) / (g1 - g0) * (b1 - b0)
                    #expect(abs(colour.scalars[(k * 3 + c) * hw + p] - expected) < 1e-5)
                }
            }
        }
    }

    @Test func tarArchiveWithClassFolders() throws {
        let dir = Self.directory.deletingLastPathComponent().appendingPathComponent("tar")
        let bytes = Array(try Data(contentsOf: dir.appendingPathComponent("sets.tar.gz")))
        let r = try DataFormat.images.readWithClasses(bytes)
        #expect(r.data.shape == [5, 1, 4, 6] && r.labels == [0, 0, 1, 1, 1] && r.classNames == ["cats", "dogs"])
        for k in 0..<5 { #expect(Self.levels(r.data.rows(k..<(k + 1))).allSatisfy { $0 == 40 * (k + 1) }, "image \(k)") }
        #expect(try ImageCodec.read(bytes).shape == [5, 1, 4, 6])
        // A header whose checksum fails, and an archive beyond the image count, are refused.
        var tar = try Gzip.decompress(bytes)
        #expect(ImageArchive.isTar(tar))
        tar[1] ^= 0x20
        #expect(throws: ImageCodec.Invalid.self) { try ImageArchive.read(tar, limits: .init()) }
        #expect(throws: ImageCodec.Invalid.self) { try ImageArchive.read(try Gzip.decompress(bytes), limits: .init(maxImages: 3, maxSide: 28)) }
    }

    /// A minimal POSIX tar of files (name, bytes), as `tar` writes one.
    static func tar(_ files: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, data) in files {
            var h = [UInt8](repeating: 0, count: 512)
            func put(_ s: String, _ o: Int) { for (i, c) in s.utf8.enumerated() { h[o + i] = c } }
            func octal(_ v: Int, _ width: Int) -> String { let d = String(v, radix: 8); return String(repeating: "0", count: max(0, width - d.count)) + d }
            put(name, 0); put("0000644", 100); put("0000000", 108); put("0000000", 116)
            put(octal(data.count, 11), 124)
            put("00000000000", 136); h[156] = UInt8(ascii: "0"); put("ustar", 257); put("00", 263)
            for i in 148..<156 { h[i] = 32 }
            let sum = h.reduce(0) { $0 + Int($1) }
            put(octal(sum, 6), 148); h[154] = 0
            out += h + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    @Test func archivesWithinArchivesAreRefused() throws {
        let image = ImageCodec.pnm(Tensor(shape: [1, 1, 4, 6], scalars: [Float](repeating: 0.5, count: 24)))
        let plain = Self.tar([("a/x.pgm", image), ("b/y.pgm", image)])
        #expect(try ImageArchive.read(plain, limits: .init()).labels == [0, 1])
        // An entry named like an image that is itself an archive: not decoded as one (no recursion).
        let nested = Self.tar([("a/x.png", plain), ("b/y.pgm", image)])
        #expect { try ImageCodec.read(nested) } throws: { ($0 as? ImageCodec.Invalid)?.description.contains("a/x.png") ?? false }
        let resourceFork = Self.tar([("a/x.pgm", image), ("__MACOSX/a/._x.pgm", [0, 1, 2]), ("b/y.pgm", image)])
        #expect(try ImageArchive.read(resourceFork, limits: .init()).images.shape == [2, 1, 4, 6])
    }
}
