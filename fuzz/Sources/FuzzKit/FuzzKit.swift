import Foundation
import ScoreEngine

/// libFuzzer's driver (compiler-rt's `LLVMFuzzerRunDriver`, linked by `-sanitize=fuzzer`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Helpers shared by the fuzz targets: the input as an array, invariant checks that crash loudly (so that
/// libFuzzer keeps the input), and fix-ups that let mutated inputs past checksums (PNG CRCs, tar header
/// checksums) so the fuzzer reaches the code behind them.
public enum FuzzKit {
    /// Runs libFuzzer on `testOneInput` with the process's arguments, and exits with its status.
    ///
    /// SwiftPM links an executable target's own entry point as `main` (renamed from `<module>_main`), which
    /// hides the `main` of libFuzzer's runtime; each target's `@main` therefore starts the driver itself.
    public static func run(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
    }

    /// The fuzzer's bytes as an array.
    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Whether `FUZZ_DEBUG` is set: then `note` prints what each input decoded to (to check that the seeds
    /// reach the paths they are meant for: `FUZZ_DEBUG=1 .build/release/png corpus/png/*`).
    public static let debugging = getenv("FUZZ_DEBUG") != nil

    public static func note(_ message: @autoclosure () -> String) {
        if debugging { print("fuzz:", message()) }
    }

    /// An invariant of a decoder's answer; failing one is a bug as much as a crash is.
    public static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                               file: StaticString = #file, line: UInt = #line) {
        if !condition() { fatalError("fuzz invariant: \(message())", file: file, line: line) }
    }

    /// Image limits small enough that no input can make a decoder allocate much legitimately: at most
    /// 8 images of 32×32 (so at most 8·32·32·6 + 1 MiB of decompressed data).
    public static let imageLimits = ImageCodec.Limits(maxImages: 8, maxSide: 32)

    /// Checks a decoded image set against the limits: [n, 1 or 3, H, W], values in [0, 1].
    public static func checkImages(_ x: Tensor, _ limits: ImageCodec.Limits, maxImages: Int? = nil) {
        require(x.rank == 4, "images of rank \(x.rank)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        require(n >= 1 && n <= (maxImages ?? limits.maxImages), "\(n) images, limit \(limits.maxImages)")
        require(c == 1 || c == 3, "\(c) channels")
        require(h >= 1 && h <= limits.maxSide && w >= 1 && w <= limits.maxSide, "images of \(h)×\(w), limit \(limits.maxSide)")
        require(x.count == n * c * h * w, "\(x.count) scalars for \(x.shape)")
        require(x.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "a pixel outside [0, 1]")
    }

    // MARK: - Checksums

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 (ISO-HDLC, as PNG and gzip use).
    public static func crc32<C: Collection>(_ b: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in b { c = crcTable[Int((c ^ UInt32(x)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    public static func adler32(_ b: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, s: UInt32 = 0
        for x in b { a = (a + UInt32(x)) % 65521; s = (s + a) % 65521 }
        return s << 16 | a
    }

    public static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func u32(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }

    /// A zlib stream (RFC 1950) of stored deflate blocks holding `b`: valid, whatever the bytes.
    public static func zlibStored(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(65535, b.count - i)
            out.append(i + n == b.count ? 1 : 0)  // BFINAL, BTYPE 00 (stored)
            out += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(~n & 0xFF), UInt8(~n >> 8 & 0xFF)]
            out += b[i..<(i + n)]
            i += n
        } while i < b.count
        return out + be32(adler32(b))
    }

    // MARK: - PNG

    /// A PNG built from `body` read as a chunk stream (4-byte length, 4-byte type, data, 4 bytes where the CRC
    /// goes): each length is clamped to the bytes present and each CRC recomputed. With `rawIDAT`, the IDAT
    /// chunks' data are taken as the uncompressed filtered scanlines and stored as one zlib stream in one IDAT
    /// chunk where the first one was, so the fuzzer controls the filters and pixels directly.
    public static func buildPNG(_ body: [UInt8], rawIDAT: Bool) -> [UInt8] {
        var chunks: [(type: [UInt8], data: [UInt8])] = []
        var i = 0
        while body.count - i >= 8 {
            let length = min(u32(body, i), body.count - i - 8)
            let type = Array(body[(i + 4)..<(i + 8)])
            chunks.append((type, Array(body[(i + 8)..<(i + 8 + length)])))
            i += 8 + length + 4
        }
        if rawIDAT {
            let idat = Array("IDAT".utf8)
            let raw = chunks.filter { $0.type == idat }.flatMap(\.data)
            if let first = chunks.firstIndex(where: { $0.type == idat }) {
                chunks = chunks.enumerated().compactMap { k, c in
                    k == first ? (idat, zlibStored(raw)) : (c.type == idat ? nil : c)
                }
            }
        }
        var out = PNG.signature
        for c in chunks {
            out += be32(UInt32(c.data.count)) + c.type + c.data
            out += be32(crc32(c.type + c.data))
        }
        return out
    }

    // MARK: - tar

    /// Rewrites the checksum of every tar header the archive reader would visit (walking by the size fields
    /// as it does), so that mutated headers pass the checksum and reach the rest of the reader.
    public static func fixTarChecksums(_ b: inout [UInt8]) {
        var o = 0
        while o + 512 <= b.count {
            if b[o..<(o + 512)].allSatisfy({ $0 == 0 }) { return }
            var sum = 0
            for k in 0..<512 { sum += (148..<156).contains(k) ? 32 : Int(b[o + k]) }
            let digits = Array(String(sum, radix: 8).utf8)
            let field = [UInt8](repeating: 48, count: max(0, 6 - digits.count)) + digits.suffix(6) + [0, 32]
            b.replaceSubrange((o + 148)..<(o + 156), with: field)
            guard let size = ImageArchive.octal(b, o + 124, 12), size <= b.count - o - 512 else { return }
            o += 512 + (size + 511) / 512 * 512
        }
    }
}
