import Foundation

/// An image set as people keep one: a tar archive (gzip-compressed or not; ustar, GNU or pax) of PNG, PGM and
/// PPM files (each possibly gzip-compressed) of one size and colour type, with the class of each image the name
/// of the folder it is in. Files of other kinds (a README) are skipped. Images are taken in path order; the
/// classes are the folder names in sorted order (labels 0…K−1), and there are labels only when there are two
/// folders or more.
public enum ImageArchive {
    public struct Contents: Sendable {
        public let images: Tensor
        public let labels: [Int]?
        public let classNames: [String]?
    }

    /// Whether bytes (decompressed) are a tar archive: the ustar magic, or a first header whose checksum holds.
    public static func isTar(_ b: [UInt8]) -> Bool {
        guard b.count >= 512 else { return false }
        if b[257..<262].elementsEqual(Array("ustar".utf8)) { return true }
        return checksumHolds(b, 0)
    }

    /// POSIX ustar ("ustar\0" "00"), whose header carries a name prefix (old GNU headers keep times there).
    static func isPOSIX(_ b: [UInt8], _ o: Int) -> Bool {
        b[(o + 257)..<(o + 265)].elementsEqual(Array("ustar".utf8) + [0, 48, 48])
    }

    static func checksumHolds(_ b: [UInt8], _ o: Int) -> Bool {
        guard let stored = octal(b, o + 148, 8) else { return false }
        var sum = 0
        for i in 0..<512 { sum += (148..<156).contains(i) ? 32 : Int(b[o + i]) }
        return sum == stored
    }

    /// A tar header's octal number field of `n` bytes at offset `o` (NUL- or space-terminated), nil if it is
    /// not one or exceeds 2⁴⁰. Public for the fuzz harness, which repairs the checksums of mutated headers.
    public static func octal(_ b: [UInt8], _ o: Int, _ n: Int) -> Int? {
        var v = 0, digits = 0
        for i in o..<(o + n) {
            let c = b[i]
            if c == 0 || c == 32 { if digits > 0 { break } else { continue } }
            guard c >= 48 && c <= 55 else { return nil }
            v = v * 8 + Int(c - 48); digits += 1
            if v > 1 << 40 { return nil }
        }
        return digits > 0 ? v : nil
    }

    static func string(_ b: [UInt8], _ o: Int, _ n: Int) -> String {
        let field = b[o..<(o + n)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[field.startIndex..<end], as: UTF8.self)
    }

    /// The images and labels of an archive (already decompressed), within `limits`.
    public static func read(_ b: [UInt8], limits: ImageCodec.Limits) throws -> Contents {
        typealias Invalid = ImageCodec.Invalid
        var files: [(path: String, bytes: [UInt8])] = []
        var o = 0
        var longName: String? = nil, paxPath: String? = nil
        while o + 512 <= b.count {
            if b[o..<(o + 512)].allSatisfy({ $0 == 0 }) { break }  // the end: a zero block
            guard checksumHolds(b, o) else { throw Invalid("tar: the header at byte \(o) fails its checksum") }
            guard let size = octal(b, o + 124, 12) else { throw Invalid("tar: the header at byte \(o) has no size") }
            guard size <= b.count - o - 512 else { throw Invalid("tar: an entry at byte \(o) runs past the end of the archive") }
            let type = b[o + 156]
            let data = Array(b[(o + 512)..<(o + 512 + size)])
            var name = string(b, o, 100)
            let prefix = isPOSIX(b, o) ? string(b, o + 345, 155) : ""
            if !prefix.isEmpty { name = prefix + "/" + name }
            if let l = longName { name = l; longName = nil }
            if let p = paxPath { name = p; paxPath = nil }
            switch type {
            case UInt8(ascii: "L"):  // GNU long name of the next entry
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):  // pax extended header of the next entry: "len key=value\n" records
                for record in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    if let r = record.split(separator: " ", maxSplits: 1).last, r.hasPrefix("path=") { paxPath = String(r.dropFirst(5)) }
                }
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                let lower = name.lowercased(), stem = lower.hasSuffix(".gz") ? String(lower.dropLast(3)) : lower
                // macOS's resource forks (._name, __MACOSX/) are not images.
                let appleDouble = lower.split(separator: "/").contains { $0 == "__macosx" || $0.hasPrefix("._") }
                if !appleDouble && [".png", ".pgm", ".ppm"].contains(where: { stem.hasSuffix($0) }) {
                    guard files.count < limits.maxImages else { throw Invalid("tar: more than \(limits.maxImages) images") }
                    files.append((name, data))
                }
            default:
                break  // directories, links, global pax headers
            }
            o += 512 + (size + 511) / 512 * 512
        }
        guard !files.isEmpty else { throw Invalid("tar: no PNG, PGM or PPM images in the archive") }
        files.sort { $0.path < $1.path }
        var images: [Tensor] = []
        for f in files {
            let x: Tensor
            do { x = try ImageCodec.readFile(f.bytes, limits: .init(maxImages: 1, maxSide: limits.maxSide)) } catch let e as ImageCodec.Invalid {
                throw Invalid("tar: \(f.path): \(e.description)")
            }
            // The whole set decoded must fit the limits as the compressed data had to.
            if images.isEmpty, files.count * x.count > limits.maxDecompressedBytes {
                throw ImageCodec.TooLarge("tar: \(files.count) images of \(x.count) values each are more than the limit of \(limits.maxDecompressedBytes)")
            }
            guard x.shape[0] == 1 else { throw Invalid("tar: \(f.path) holds \(x.shape[0]) images; one per file") }
            if let first = images.first, first.shape != x.shape {
                throw Invalid("tar: \(f.path) is \(Array(x.shape.dropFirst())) (channels, height, width), \(files[0].path) \(Array(first.shape.dropFirst()))")
            }
            images.append(x)
        }
        let folders = files.map { f -> String in
            let parts = f.path.split(separator: "/")
            return parts.count >= 2 ? String(parts[parts.count - 2]) : ""
        }
        let names = Array(Set(folders)).sorted()
        let all = Tensor.concatenateRows(images)
        guard names.count >= 2 else { return Contents(images: all, labels: nil, classNames: nil) }
        guard names.count <= PointCloud.maxLabel + 1 else { throw Invalid("tar: more than \(PointCloud.maxLabel + 1) class folders") }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        return Contents(images: all, labels: folders.map { index[$0]! }, classNames: names)
    }
}
