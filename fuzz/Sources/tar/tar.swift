import FuzzKit
import ScoreEngine

/// The image archive reader (`ImageArchive`: ustar, GNU long names, pax paths; PNG/PGM/PPM members, each
/// possibly gzip-compressed; class folders as labels), as `POST /datasets` reaches it
/// (`DataFormat.images.readWithClasses`: gunzip, `isTar`, `ImageArchive.read`), with small limits. Input: a
/// mode byte, then the payload. Mode bit 0: rewrite the header checksums (`FuzzKit.fixTarChecksums`) so
/// mutated headers get past them; bit 1: gzip-compress the archive (.tar.gz). Checked: images within the
/// limits; labels one per image, in 0..<classes, with two classes or more.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    var tar = FuzzKit.bytes(data + 1, size - 1)
    if mode & 1 != 0 { FuzzKit.fixTarChecksums(&tar) }
    let b = mode & 2 != 0 ? Gzip.compress(tar) : tar
    let limits = FuzzKit.imageLimits

    if let r = try? DataFormat.images.readWithClasses(b, imageLimits: limits) {
        FuzzKit.note("read \(r.data.shape) labels \(r.labels ?? []) classes \(r.classNames ?? [])")
        FuzzKit.checkImages(r.data, limits)
        check(r.data, r.labels, r.classNames)
    }
    if ImageArchive.isTar(tar), let a = try? ImageArchive.read(tar, limits: limits) {
        FuzzKit.checkImages(a.images, limits)
        check(a.images, a.labels, a.classNames)
    }
    return 0
}

func check(_ images: Tensor, _ labels: [Int]?, _ classNames: [String]?) {
    FuzzKit.require((labels == nil) == (classNames == nil), "labels without class names or the reverse")
    guard let labels, let classNames else { return }
    FuzzKit.require(classNames.count >= 2, "labels with \(classNames.count) class")
    FuzzKit.require(Set(classNames).count == classNames.count && classNames == classNames.sorted(), "class names \(classNames)")
    FuzzKit.require(labels.count == images.shape[0], "\(labels.count) labels for \(images.shape[0]) images")
    FuzzKit.require(labels.allSatisfy { (0..<classNames.count).contains($0) }, "a label outside 0..<\(classNames.count)")
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
