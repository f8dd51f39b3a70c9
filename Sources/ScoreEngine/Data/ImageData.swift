import CZlib
import Foundation

/// gzip streams through zlib.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible { public let description: String }
    /// The output would pass the caller's limit.
    public struct TooLarge: Error, CustomStringConvertible { public let description: String }

    /// True when `bytes` start with the gzip magic number.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// A gzip member holding `bytes` (RFC 1952).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var s = z_stream()
        precondition(deflateInit2_(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&s) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&s, uLong(bytes.count))) + 32)
        var input = bytes
        let produced: Int = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                s.next_in = inp.baseAddress
                s.avail_in = uInt(inp.count)
                s.next_out = o.baseAddress
                s.avail_out = uInt(o.count)
                let r = deflate(&s, Z_FINISH)
                precondition(r == Z_STREAM_END, "deflate: \(r)")
                return Int(s.total_out)
            }
        }
        out.removeSubrange(produced...)
        return out
    }

    /// The decompressed contents of one or more gzip members (or a zlib stream); refuses output beyond
    /// `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int = 1 << 30) throws -> [UInt8] {
        let inflater = Inflater(limit: limit)
        try bytes.withUnsafeBytes { try inflater.feed($0) }
        return try inflater.finish()
    }

    /// Decompresses as the compressed bytes come (an upload read as it arrives): one or more gzip members (or
    /// zlib streams) back to back, then possibly zero padding; refuses output beyond `limit` bytes.
    public final class Inflater {
        private var stream = z_stream()
        /// Inside a member (zlib started on it).
        private var inMember = false
        private var members = 0
        /// After the last member: only zero bytes may follow.
        private var padding = false
        private let limit: Int
        private var chunk = [UInt8](repeating: 0, count: 1 << 18)
        /// What has come out so far.
        public private(set) var output: [UInt8] = []

        public init(limit: Int = 1 << 30) { self.limit = limit }

        deinit { if inMember { inflateEnd(&stream) } }

        /// Decompresses the next compressed bytes.
        public func feed(_ bytes: UnsafeRawBufferPointer) throws {
            guard let base = bytes.bindMemory(to: UInt8.self).baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                if padding {
                    guard bytes[offset...].allSatisfy({ $0 == 0 }) else { throw Failure(description: "the compressed data is corrupt") }
                    return
                }
                if !inMember {
                    // Trailing zero padding after the last member is allowed.
                    if members > 0 && bytes[offset] == 0 { padding = true; continue }
                    stream = z_stream()
                    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                        throw Failure(description: "zlib could not start")
                    }
                    inMember = true
                    members += 1
                }
                stream.next_in = UnsafeMutablePointer(mutating: base + offset)
                stream.avail_in = uInt(bytes.count - offset)
                var status: Int32 = Z_OK
                repeat {
                    let got: Int = chunk.withUnsafeMutableBufferPointer { c in
                        stream.next_out = c.baseAddress
                        stream.avail_out = uInt(c.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        return c.count - Int(stream.avail_out)
                    }
                    if status != Z_OK && status != Z_STREAM_END && !(status == Z_BUF_ERROR && stream.avail_in == 0) {
                        throw Failure(description: "the compressed data is corrupt")
                    }
                    if output.count + got > limit { throw TooLarge(description: "decompresses to more than \(limit) bytes") }
                    output.append(contentsOf: chunk[0..<got])
                    // More output may be pending while the chunk came back full.
                } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
                offset = bytes.count - Int(stream.avail_in)
                if status == Z_STREAM_END {
                    inflateEnd(&stream)
                    inMember = false
                }
            }
        }

        /// Everything decompressed; throws if a member was cut short.
        public func finish() throws -> [UInt8] {
            if inMember { throw Failure(description: "the compressed data ends early") }
            return output
        }
    }
}

/// Sets of images as tensors [n, C, H, W] with values in [0, 1], C = 1 (grey) or 3 (colour): IDX files
/// (MNIST's format), binary PGM (P5) and PPM (P6), one or several images back to back, and PNG (`PNG`), each
/// gzip-compressed or not, both ways.
public enum ImageCodec {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    public struct Limits: Sendable {
        public var maxImages: Int
        public var maxSide: Int
        public init(maxImages: Int = 100_000, maxSide: Int = 256) { self.maxImages = maxImages; self.maxSide = maxSide }
        /// The most bytes compressed input may expand to: the largest set the limits allow, in 16-bit colour,
        /// and never more than 512 MiB.
        public var maxDecompressedBytes: Int { min(maxImages * maxSide * maxSide * 6 + (1 << 20), 512 << 20) }
    }

    /// Decompressed data beyond the limits (a decompression bomb, or simply too much).
    public struct TooLarge: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    /// The bytes decompressed if they are gzip, within the limits (beyond them: `TooLarge`).
    public static func gunzip(_ bytes: [UInt8], limits: Limits) throws -> [UInt8] {
        guard Gzip.isCompressed(bytes) else { return bytes }
        do { return try Gzip.decompress(bytes, limit: limits.maxDecompressedBytes) } catch let e as Gzip.TooLarge {
            throw TooLarge("gzip: \(e)")
        } catch {
            throw Invalid("gzip: \(error)")
        }
    }

    /// Reads IDX, binary PGM/PPM (P5/P6, several images back to back) or one PNG, each possibly
    /// gzip-compressed, by their magic numbers: [n, C, H, W] in [0, 1] with C = 1 (grey) or 3 (colour).
    public static func read(_ bytes: [UInt8], limits: Limits = Limits()) throws -> Tensor {
        let b = try gunzip(bytes, limits: limits)
        if ImageArchive.isTar(b) { return try ImageArchive.read(b, limits: limits).images }
        if b.count >= 2 && b[0] == UInt8(ascii: "P") && (b[1] == UInt8(ascii: "5") || b[1] == UInt8(ascii: "6")) { return try pnm(b, limits: limits) }
        if b.starts(with: PNG.signature) { return try PNG.decode(b, limits: limits) }
        if b.count >= 4 && b[0] == 0 && b[1] == 0 { return try idx(b, limits: limits) }
        throw Invalid("not an image set: expected IDX, binary PGM (P5) or PPM (P6), or PNG")
    }

    /// One image file as an archive holds it: PNG, PGM or PPM, gzip-compressed or not, nothing else (no
    /// archives within archives).
    public static func readFile(_ bytes: [UInt8], limits: Limits) throws -> Tensor {
        let b = try gunzip(bytes, limits: limits)
        if b.starts(with: PNG.signature) { return try PNG.decode(b, limits: limits) }
        if b.count >= 2 && b[0] == UInt8(ascii: "P") && (b[1] == UInt8(ascii: "5") || b[1] == UInt8(ascii: "6")) { return try pnm(b, limits: limits) }
        throw Invalid("not a PNG, PGM or PPM image")
    }

    /// An IDX label file (gzip-compressed or not): unsigned bytes in one dimension, as MNIST's.
    public static func idxLabels(_ bytes: [UInt8], maxCount: Int = 10_000_000) throws -> [Int] {
        var b = bytes
        if Gzip.isCompressed(b) {
            do { b = try Gzip.decompress(b, limit: maxCount + 8) } catch let e as Gzip.TooLarge { throw TooLarge("gzip: \(e)") } catch { throw Invalid("gzip: \(error)") }
        }
        guard b.count >= 8, b[0] == 0, b[1] == 0, b[2] == 0x08, b[3] == 1 else {
            throw Invalid("IDX labels: expected unsigned bytes in one dimension (magic 0x00000801)")
        }
        let n = Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
        guard n <= maxCount else { throw Invalid("IDX labels: more than \(maxCount)") }
        guard b.count == 8 + n else { throw Invalid("IDX labels: \(n) announced, \(b.count - 8) present") }
        return b[8...].map { Int($0) }
    }

    /// An IDX file of unsigned bytes with 3 dimensions (n, rows, columns) → [n, 1, rows, columns] / 255.
    public static func idx(_ b: [UInt8], limits: Limits = Limits()) throws -> Tensor {
        guard b.count >= 4, b[0] == 0, b[1] == 0 else { throw Invalid("IDX: bad magic number") }
        guard b[2] == 0x08 else { throw Invalid("IDX: only unsigned-byte data (type 0x08) holds images") }
        let dims = Int(b[3])
        guard dims == 3 || dims == 4 else { throw Invalid("IDX: images need 3 dimensions (n, rows, columns), found \(dims)") }
        guard b.count >= 4 + 4 * dims else { throw Invalid("IDX: the header is cut short") }
        var size: [Int] = []
        for d in 0..<dims {
            let o = 4 + 4 * d
            size.append(Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]))
        }
        let shape = dims == 3 ? [size[0], 1, size[1], size[2]] : size
        try check(n: shape[0], channels: shape[1], h: shape[2], w: shape[3], limits)
        let count = shape.reduce(1, *), start = 4 + 4 * dims
        guard b.count == start + count else {
            throw Invalid("IDX: the header announces \(count) bytes of data, the file holds \(b.count - start)")
        }
        return Tensor(shape: shape) { y, n in
            b.withUnsafeBufferPointer { src in for i in 0..<n { y[i] = Float(src[start + i]) * (1 / 255) } }
        }
    }

    static func check(n: Int, channels: Int, h: Int, w: Int, _ limits: Limits) throws {
        guard n >= 1 else { throw Invalid("holds no images") }
        guard n <= limits.maxImages else { throw Invalid("holds \(n) images, more than the limit of \(limits.maxImages)") }
        guard channels == 1 || channels == 3 else { throw Invalid("images need 1 (grey) or 3 (colour) channels, found \(channels)") }
        guard (1...limits.maxSide).contains(h), (1...limits.maxSide).contains(w) else {
            throw Invalid("images of \(h)×\(w); each side must be between 1 and \(limits.maxSide)")
        }
    }

    /// One or more binary PGM (P5) or PPM (P6) images (maxval 1…65535, comments allowed in headers), all of one
    /// kind and size: [n, 1, H, W] or [n, 3, H, W].
    public static func pnm(_ b: [UInt8], limits: Limits = Limits()) throws -> Tensor {
        var i = 0
        var scalars: [Float] = []
        var size: (Int, Int)? = nil
        var kind: UInt8? = nil
        var n = 0
        func name() -> String { kind == UInt8(ascii: "6") ? "PPM" : "PGM" }
        func skipSpace() {
            while i < b.count {
                if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 10 && b[i] != 13 { i += 1 } }
                else if [9, 10, 11, 12, 13, 32].contains(b[i]) { i += 1 } else { break }
            }
        }
        func number(_ what: String) throws -> Int {
            skipSpace()
            var v = 0, digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                v = v * 10 + Int(b[i] - 48); digits += 1; i += 1
                if v > 1 << 24 { throw Invalid("\(name()) image \(n + 1): \(what) is too large") }
            }
            guard digits > 0 else { throw Invalid("\(name()) image \(n + 1): expected the \(what)") }
            return v
        }
        while true {
            skipSpace()
            if i >= b.count { break }
            guard i + 1 < b.count, b[i] == UInt8(ascii: "P"), b[i + 1] == UInt8(ascii: "5") || b[i + 1] == UInt8(ascii: "6") else {
                throw Invalid("image \(n + 1): expected the magic number P5 (binary grey map) or P6 (binary pixel map)")
            }
            if let k = kind, k != b[i + 1] { throw Invalid("image \(n + 1) is P\(Character(UnicodeScalar(b[i + 1]))), the first one P\(Character(UnicodeScalar(k)))") }
            kind = b[i + 1]
            i += 2
            let w = try number("width"), h = try number("height"), maxval = try number("maximum value")
            guard (1...65535).contains(maxval) else { throw Invalid("\(name()) image \(n + 1): maximum value \(maxval) is outside 1…65535") }
            guard i < b.count, [9, 10, 11, 12, 13, 32].contains(b[i]) else { throw Invalid("\(name()) image \(n + 1): header not ended by white space") }
            i += 1
            if let s = size, s != (h, w) { throw Invalid("\(name()) image \(n + 1) is \(h)×\(w), the first one \(s.0)×\(s.1)") }
            let c = kind == UInt8(ascii: "6") ? 3 : 1
            try check(n: n + 1, channels: c, h: h, w: w, limits)
            size = (h, w)
            let bytesPer = maxval > 255 ? 2 : 1, count = h * w * c
            guard count * bytesPer <= b.count - i else { throw Invalid("\(name()) image \(n + 1): the pixel data is cut short") }
            let scale = 1 / Float(maxval)
            // Interleaved samples (RGBRGB…) to planes [C, H, W].
            var planes = [Float](repeating: 0, count: count)
            for k in 0..<count {
                let v = bytesPer == 1 ? Int(b[i + k]) : Int(b[i + 2 * k]) << 8 | Int(b[i + 2 * k + 1])
                guard v <= maxval else { throw Invalid("\(name()) image \(n + 1): sample \(k) is \(v), above the maximum value \(maxval)") }
                planes[(k % c) * h * w + k / c] = Float(v) * scale
            }
            scalars += planes
            i += count * bytesPer
            n += 1
        }
        guard let (h, w) = size else { throw Invalid("holds no images") }
        return Tensor(shape: [n, kind == UInt8(ascii: "6") ? 3 : 1, h, w], scalars: scalars)
    }

    /// One or more binary PGM images (P5).
    public static func pgm(_ b: [UInt8], limits: Limits = Limits()) throws -> Tensor {
        let x = try pnm(b, limits: limits)
        guard x.shape[1] == 1 else { throw Invalid("expected grey-scale PGM (P5) images") }
        return x
    }

    /// Pixel value of x ∈ [0, 1] (clamped) as 0…255.
    @inline(__always) static func byte(_ x: Float) -> UInt8 {
        let v = (x.isNaN ? 0 : Swift.min(Swift.max(x, 0), 1)) * 255
        return UInt8(v.rounded())
    }

    /// Images [n, C, H, W] (values in [0, 1], clamped) as n binary PGM (C = 1) or PPM (C = 3) images back to
    /// back, maxval 255.
    public static func pnm(_ images: Tensor) -> [UInt8] {
        precondition(images.rank == 4 && (images.shape[1] == 1 || images.shape[1] == 3), "PGM/PPM hold images [n, 1 or 3, H, W]")
        let n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3]
        let header = Array("P\(c == 1 ? 5 : 6)\n\(w) \(h)\n255\n".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(n * (header.count + c * h * w))
        for k in 0..<n {
            out += header
            out += interleaved(images, k)
        }
        return out
    }

    /// Grey-scale images [n, 1, H, W] as PGM.
    public static func pgm(_ images: Tensor) -> [UInt8] {
        precondition(images.rank == 4 && images.shape[1] == 1, "PGM holds grey-scale images [n, 1, H, W]")
        return pnm(images)
    }

    /// Image k's 8-bit samples, pixel by pixel (RGBRGB… for colour).
    public static func interleaved(_ images: Tensor, _ k: Int) -> [UInt8] {
        let c = images.shape[1], hw = images.shape[2] * images.shape[3], base = k * c * hw
        var out = [UInt8](repeating: 0, count: c * hw)
        for p in 0..<hw { for ch in 0..<c { out[p * c + ch] = byte(images.scalars[base + ch * hw + p]) } }
        return out
    }

    /// The images tiled into one PGM or PPM, `columns` across (default: the smallest square grid), with a
    /// `gap`-pixel black border between tiles.
    public static func pnmGrid(_ images: Tensor, columns: Int? = nil, gap: Int = 2) -> [UInt8] {
        let g = gridPixels(images, columns: columns, gap: gap)
        return Array("P\(g.channels == 1 ? 5 : 6)\n\(g.width) \(g.height)\n255\n".utf8) + g.pixels
    }

    /// The grid's 8-bit samples, row by row (RGB interleaved for colour), its width, height and channels.
    public static func gridPixels(_ images: Tensor, columns: Int? = nil, gap: Int = 2) -> (pixels: [UInt8], width: Int, height: Int, channels: Int) {
        precondition(images.rank == 4 && (images.shape[1] == 1 || images.shape[1] == 3))
        let n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3]
        let cols = max(1, columns ?? Int(Double(n).squareRoot().rounded(.up)))
        let rows = (n + cols - 1) / cols
        let gw = cols * w + (cols + 1) * gap, gh = rows * h + (rows + 1) * gap
        var pixels = [UInt8](repeating: 0, count: gw * gh * c)
        for k in 0..<n {
            let r = k / cols, col = k % cols
            let y0 = gap + r * (h + gap), x0 = gap + col * (w + gap)
            let tile = interleaved(images, k)
            for y in 0..<h {
                let dst = ((y0 + y) * gw + x0) * c
                for j in 0..<(w * c) { pixels[dst + j] = tile[y * w * c + j] }
            }
        }
        return (pixels, gw, gh, c)
    }
}

/// The MNIST digits (LeCun, Cortes and Burges; CC BY-SA 3.0), shipped under `datasets/mnist/` as IDX files.
public enum MNIST {
    public enum Split: String, Sendable { case train, test }

    public static func fileName(_ split: Split) -> String {
        split == .train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz"
    }

    /// The images of a split, [n, 1, 28, 28] in [0, 1], from `directory` (which holds the gzip IDX files,
    /// under either the dash or the dot spelling of their names).
    public static func load(_ split: Split, from directory: URL) throws -> Tensor {
        let stem = split == .train ? "train-images" : "t10k-images"
        let names = ["\(stem)-idx3-ubyte.gz", "\(stem).idx3-ubyte.gz", "\(stem)-idx3-ubyte", "\(stem).idx3-ubyte"]
        for name in names {
            let url = directory.appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: url.path) {
                return try ImageCodec.read(Array(data), limits: .init(maxImages: 70_000, maxSide: 28))
            }
        }
        throw ImageCodec.Invalid("no MNIST \(split.rawValue) images in \(directory.path)")
    }

    /// The labels (0…9) of a split, from `directory` (the gzip IDX label files, dash or dot spelling).
    public static func labels(_ split: Split, from directory: URL) throws -> [Int] {
        let stem = split == .train ? "train-labels" : "t10k-labels"
        for name in ["\(stem)-idx1-ubyte.gz", "\(stem).idx1-ubyte.gz", "\(stem)-idx1-ubyte", "\(stem).idx1-ubyte"] {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else { continue }
            let labels = try ImageCodec.idxLabels(Array(data))
            guard labels.allSatisfy({ $0 < 10 }) else { throw ImageCodec.Invalid("IDX labels: a label above 9") }
            return labels
        }
        throw ImageCodec.Invalid("no MNIST \(split.rawValue) labels in \(directory.path)")
    }
}
