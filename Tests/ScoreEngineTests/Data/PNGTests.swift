import Foundation
import ScoreEngine
import Testing

/// Our PNGs read back, pixel for pixel, by an independent decoder (Python's standard library: zlib and the
/// chunk layout of the PNG specification, CRCs checked).
@Suite struct PNGTests {
    @Test(arguments: [1, 3])
    func decodedByPython(channels: Int) throws {
        let pixels: [UInt8] = (0..<(7 * 5 * channels)).map { UInt8(($0 * 37) % 256) }
        let png = PNG.image(pixels, width: 7, height: 5, channels: channels)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(UUID().uuidString).png")
        try Data(png).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            import struct, sys, zlib
            b = open(sys.argv[1], 'rb').read()
            assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
            i, idat, ihdr = 8, b'', None
            while i < len(b):
                n, = struct.unpack('>I', b[i:i+4]); kind = b[i+4:i+8]; body = b[i+8:i+8+n]
                crc, = struct.unpack('>I', b[i+8+n:i+12+n]); assert crc == zlib.crc32(kind + body) & 0xffffffff
                if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
                if kind == b'IDAT': idat += body
                i += 12 + n
            w, h, depth, colour = ihdr[:4]; assert depth == 8 and colour in (0, 2)
            c = 1 if colour == 0 else 3
            raw = zlib.decompress(idat)
            rows = [raw[y*(w*c+1):(y+1)*(w*c+1)] for y in range(h)]
            assert all(r[0] == 0 for r in rows)
            print(w, h, ','.join(str(v) for r in rows for v in r[1:]))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(p.terminationStatus == 0)
        #expect(text == "7 5 " + pixels.map(String.init).joined(separator: ","))
    }

    @Test func gridScalesEachPixel() {
        let images = Tensor(shape: [1, 1, 2, 2], scalars: [0, 1, 0.5, 0.25])
        let (pixels, w, h, _) = ImageCodec.gridPixels(images, gap: 0)
        #expect(w == 2 && h == 2 && pixels == [0, 255, 128, 64])
    }
}
