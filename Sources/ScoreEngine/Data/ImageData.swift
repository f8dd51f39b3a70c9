import CZlib
import Foundation

/// gzip streams through zlib.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

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
        var result: [UInt8] = []
        var offset = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var input = bytes
        while offset < input.count {
            var s = z_stream()
            guard inflateInit2_(&s, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw Failure(description: "zlib could not start")
            }
            defer { inflateEnd(&s) }
            var status: Int32 = Z_OK
            try input.withUnsafeMutableBufferPointer { inp in
                s.next_in = inp.baseAddress! + offset
                s.avail_in = uInt(inp.count - offset)
                while status != Z_STREAM_END {
                    let got: Int = chunk.withUnsafeMutableBufferPointer { c in
                        s.next_out = c.baseAddress
                        s.avail_out = uInt(c.count)
                        status = inflate(&s, Z_NO_FLUSH)
                        return c.count - Int(s.avail_out)
                    }
                    if status != Z_OK && status != Z_STREAM_END {
                        throw Failure(description: status == Z_BUF_ERROR ? "the compressed data ends early" : "the compressed data is corrupt")
                    }
                    if result.count + got > limit { throw Failure(description: "decompresses to more than \(limit) bytes") }
                    result.append(contentsOf: chunk[0..<got])
                }
                offset = inp.count - Int(s.avail_in)
            }
            // Trailing zero padding after the last member is allowed.
            if input[offset...].allSatisfy({ $0 == 0 }) { break }
        }
        return result
    }
}

/// Sets of grey-scale images as tensors [n, 1, H, W] with values in [0, 1]: IDX files (MNIST's format,
/// gzip-compressed or not) and binary PGM (P5, one or several images back to back), both ways.
public enum ImageCodec {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    public struct Limits: Sendable {
        public var maxImages: Int
        public var maxSide: Int
        public init(maxImages: Int = 100_000, maxSide: Int = 256) { self.maxImages = maxImages; self.maxSide = maxSide }
    }

    /// Reads IDX or PGM (either possibly gzip-compressed), by their magic numbers.
    public static func read(_ bytes: [UInt8], limits: Limits = Limits()) throws -> Tensor {
        var b = bytes
        if Gzip.isCompressed(b) {
            do { b = try Gzip.decompress(b, limit: limits.maxImages * limits.maxSide * limits.maxSide * 2 + (1 << 20)) } catch {
                throw Invalid("gzip: \(error)")
            }
        }
        if b.count >= 2 && b[0] == UInt8(ascii: "P") && b[1] == UInt8(ascii: "5") { return try pgm(b, limits: limits) }
        if b.count >= 4 && b[0] == 0 && b[1] == 0 { return try idx(b, limits: limits) }
        throw Invalid("not an IDX file or binary PGM (P5) image set")
    }

    /// An IDX label file (gzip-compressed or not): unsigned bytes in one dimension, as MNIST's.
    public static func idxLabels(_ bytes: [UInt8], maxCount: Int = 10_000_000) throws -> [Int] {
        var b = bytes
        if Gzip.isCompressed(b) {
            do { b = try Gzip.decompress(b, limit: maxCount + 8) } catch { throw Invalid("gzip: \(error)") }
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
        guard channels == 1 else { throw Invalid("only grey-scale images (one channel) are supported, found \(channels)") }
        guard (1...limits.maxSide).contains(h), (1...limits.maxSide).contains(w) else {
            throw Invalid("images of \(h)×\(w); each side must be between 1 and \(limits.maxSide)")
        }
    }

    /// One or more binary PGM images (P5, maxval 1…65535, comments allowed in headers), all of one size.
    public static func pgm(_ b: [UInt8], limits: Limits = Limits()) throws -> Tensor {
        var i = 0
        var scalars: [Float] = []
        var size: (Int, Int)? = nil
        var n = 0
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
                if v > 1 << 24 { throw Invalid("PGM image \(n + 1): \(what) is too large") }
            }
            guard digits > 0 else { throw Invalid("PGM image \(n + 1): expected the \(what)") }
            return v
        }
        while true {
            skipSpace()
            if i >= b.count { break }
            guard i + 1 < b.count, b[i] == UInt8(ascii: "P"), b[i + 1] == UInt8(ascii: "5") else {
                throw Invalid("PGM image \(n + 1): expected the magic number P5 (binary grey map)")
            }
            i += 2
            let w = try number("width"), h = try number("height"), maxval = try number("maximum value")
            guard (1...65535).contains(maxval) else { throw Invalid("PGM image \(n + 1): maximum value \(maxval) is outside 1…65535") }
            guard i < b.count, [9, 10, 11, 12, 13, 32].contains(b[i]) else { throw Invalid("PGM image \(n + 1): header not ended by white space") }
            i += 1
            if let s = size, s != (h, w) { throw Invalid("PGM image \(n + 1) is \(h)×\(w), the first one \(s.0)×\(s.1)") }
            try check(n: n + 1, channels: 1, h: h, w: w, limits)
            size = (h, w)
            let bytesPer = maxval > 255 ? 2 : 1, count = h * w
            guard i + count * bytesPer <= b.count else { throw Invalid("PGM image \(n + 1): the pixel data is cut short") }
            let scale = 1 / Float(maxval)
            scalars.reserveCapacity(scalars.count + count)
            for k in 0..<count {
                let v = bytesPer == 1 ? Int(b[i + k]) : Int(b[i + 2 * k]) << 8 | Int(b[i + 2 * k + 1])
                guard v <= maxval else { throw Invalid("PGM image \(n + 1): pixel \(k) is \(v), above the maximum value \(maxval)") }
                scalars.append(Float(v) * scale)
            }
            i += count * bytesPer
            n += 1
        }
        guard let (h, w) = size else { throw Invalid("holds no images") }
        return Tensor(shape: [n, 1, h, w], scalars: scalars)
    }

    /// Pixel value of x ∈ [0, 1] (clamped) as 0…255.
    @inline(__always) static func byte(_ x: Float) -> UInt8 {
        let v = (x.isNaN ? 0 : Swift.min(Swift.max(x, 0), 1)) * 255
        return UInt8(v.rounded())
    }

    /// Images [n, 1, H, W] (values in [0, 1], clamped) as n binary PGM images back to back, maxval 255.
    public static func pgm(_ images: Tensor) -> [UInt8] {
        precondition(images.rank == 4 && images.shape[1] == 1, "PGM holds grey-scale images [n, 1, H, W]")
        let n = images.shape[0], h = images.shape[2], w = images.shape[3]
        let header = Array("P5\n\(w) \(h)\n255\n".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(n * (header.count + h * w))
        for k in 0..<n {
            out += header
            for p in 0..<(h * w) { out.append(byte(images.scalars[k * h * w + p])) }
        }
        return out
    }

    /// The images tiled into one PGM, `columns` across (default: the smallest square grid), with a
    /// `gap`-pixel black border between tiles.
    public static func pgmGrid(_ images: Tensor, columns: Int? = nil, gap: Int = 2) -> [UInt8] {
        let (pixels, gw, gh) = gridPixels(images, columns: columns, gap: gap)
        return Array("P5\n\(gw) \(gh)\n255\n".utf8) + pixels
    }

    /// The grid's 8-bit pixels, row by row, and its width and height.
    public static func gridPixels(_ images: Tensor, columns: Int? = nil, gap: Int = 2) -> (pixels: [UInt8], width: Int, height: Int) {
        precondition(images.rank == 4 && images.shape[1] == 1)
        let n = images.shape[0], h = images.shape[2], w = images.shape[3]
        let cols = columns ?? Int(Double(n).squareRoot().rounded(.up))
        let rows = (n + cols - 1) / cols
        let gw = cols * w + (cols + 1) * gap, gh = rows * h + (rows + 1) * gap
        var pixels = [UInt8](repeating: 0, count: gw * gh)
        for k in 0..<n {
            let r = k / cols, c = k % cols
            let y0 = gap + r * (h + gap), x0 = gap + c * (w + gap)
            for y in 0..<h { for x in 0..<w { pixels[(y0 + y) * gw + x0 + x] = byte(images.scalars[(k * h + y) * w + x]) } }
        }
        return (pixels, gw, gh)
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
