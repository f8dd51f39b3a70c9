import FuzzKit
import ScoreEngine

/// IDX files (MNIST's format): image sets (unsigned bytes, 3 dimensions n × rows × columns, or 4 with
/// channels) as `POST /datasets` reads them, and label files as `PUT /datasets/{id}/labels` reads them
/// (`ImageCodec.idxLabels`, at most 1 000 000 labels). Input: a mode byte, then the payload. Mode bit 0: read
/// as a label file (else as images); bit 1: gzip-compress the payload first. Images with small limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    let payload = FuzzKit.bytes(data + 1, size - 1)
    let b = mode & 2 != 0 ? Gzip.compress(payload) : payload
    let limits = FuzzKit.imageLimits

    if mode & 1 != 0 {
        if let labels = try? ImageCodec.idxLabels(b, maxCount: 1_000_000) {
            FuzzKit.note("labels \(labels)")
            FuzzKit.require(labels.count <= 1_000_000 && labels.allSatisfy { (0...255).contains($0) }, "labels out of range")
            if !Gzip.isCompressed(b) { FuzzKit.require(labels.count + 8 == b.count, "\(labels.count) labels from \(b.count) bytes") }
        }
        if let labels = try? ImageCodec.idxLabels(b, maxCount: 16) {
            FuzzKit.require(labels.count <= 16, "\(labels.count) labels, limit 16")
        }
        return 0
    }
    if let r = try? DataFormat.images.readWithClasses(b, imageLimits: limits) {
        FuzzKit.note("read \(r.data.shape) labels \(r.labels?.count ?? -1)")
        FuzzKit.checkImages(r.data, limits)
    }
    if let x = try? ImageCodec.idx(payload, limits: limits) {
        FuzzKit.checkImages(x, limits)
        FuzzKit.require(payload.count == 4 + 4 * (payload[3] == 3 ? 3 : 4) + x.count, "\(x.count) pixels from \(payload.count) bytes")
    }
    return 0
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
