import FuzzKit
import ScoreEngine

/// Binary PGM/PPM (P5/P6, several images back to back, comments, 8- and 16-bit samples) and the gunzip in
/// front of every image upload. Input: a mode byte, then the payload; with bit 0 of the mode set the payload
/// is gzip-compressed first (so the fuzzer's PNM bytes also reach the decoder through a valid gzip stream).
/// Read as the service reads image uploads — `DataFormat.images.readWithClasses` (`POST /datasets`) and
/// `ImageCodec.read` (`POST /colorize`, `/inpaint`) — with small limits (`FuzzKit.imageLimits`), and directly
/// by `ImageCodec.pnm`. Checked: shapes within the limits, pixels in [0, 1], gunzip within its limit, and
/// decoded images written back as PGM/PPM read back as the same images (to 8 bits).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    let payload = FuzzKit.bytes(data + 1, size - 1)
    let b = mode & 1 != 0 ? Gzip.compress(payload) : payload
    let limits = FuzzKit.imageLimits

    if let plain = try? ImageCodec.gunzip(b, limits: limits) {
        FuzzKit.require(plain.count <= limits.maxDecompressedBytes, "gunzip gave \(plain.count) bytes, limit \(limits.maxDecompressedBytes)")
    }
    if let r = try? DataFormat.images.readWithClasses(b, imageLimits: limits) {
        FuzzKit.note("read \(r.data.shape) labels \(r.labels?.count ?? -1)")
        FuzzKit.checkImages(r.data, limits)
        if let labels = r.labels { FuzzKit.require(labels.count == r.data.shape[0], "\(labels.count) labels") }
    }
    let two = ImageCodec.Limits(maxImages: 2, maxSide: limits.maxSide)
    if let x = try? ImageCodec.read(b, limits: two) { FuzzKit.checkImages(x, two) }

    if let x = try? ImageCodec.pnm(payload, limits: limits) {
        FuzzKit.checkImages(x, limits)
        let written = ImageCodec.pnm(x)
        guard let y = try? ImageCodec.pnm(written, limits: limits) else {
            FuzzKit.require(false, "PNM written from \(x.shape) does not read back")
            return 0
        }
        FuzzKit.require(y.shape == x.shape, "PNM read back as \(y.shape), written from \(x.shape)")
        FuzzKit.require(x.maxAbsDifference(y) <= 0.5 / 255 + 1e-5, "PNM read back differs by \(x.maxAbsDifference(y))")
    }
    return 0
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
