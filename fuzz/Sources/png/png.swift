import FuzzKit
import ScoreEngine

/// The PNG decoder (`PNG.decode`: chunks and CRCs, IHDR, IDAT through zlib, the five row filters), as image
/// uploads reach it (`DataFormat.images.readWithClasses`, `ImageCodec.read`, after gunzip) and directly, with
/// small limits. Input: a mode byte, then the payload.
///   mode % 3 == 0: the payload is the file as is;
///   mode % 3 == 1: the payload is a chunk stream without the signature; lengths are clamped and CRCs fixed
///                  (`FuzzKit.buildPNG`), so mutations get past the CRC check;
///   mode % 3 == 2: as 1, and the IDAT chunks hold the raw filtered scanlines, stored as one zlib stream, so
///                  mutations reach the filters.
/// Checked: one image [1, 1 or 3, H, W] within the limits, pixels in [0, 1], and the image written back by
/// `PNG.image` reads back identical.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0] % 3
    let payload = FuzzKit.bytes(data + 1, size - 1)
    let b = mode == 0 ? payload : FuzzKit.buildPNG(payload, rawIDAT: mode == 2)
    let limits = FuzzKit.imageLimits

    if let r = try? DataFormat.images.readWithClasses(b, imageLimits: limits) {
        FuzzKit.note("read \(r.data.shape) labels \(r.labels?.count ?? -1)")
        FuzzKit.checkImages(r.data, limits)
    }
    guard let x = try? PNG.decode(b, limits: limits) else { return 0 }
    FuzzKit.checkImages(x, limits, maxImages: 1)
    let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
    let written = PNG.image(ImageCodec.interleaved(x, 0), width: w, height: h, channels: c)
    guard let y = try? PNG.decode(written, limits: limits) else {
        FuzzKit.require(false, "PNG written from \(x.shape) does not read back")
        return 0
    }
    FuzzKit.require(y == x, "PNG read back differs from the image written")
    return 0
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
