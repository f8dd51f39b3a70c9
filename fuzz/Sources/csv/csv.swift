import FuzzKit
import ScoreEngine

/// The CSV point-cloud reader: an upload of `text/csv` (`POST /datasets`, `POST /latents/encode`) goes through
/// `DataFormat.csv.readWithClasses` (UTF-8 check, then `PointCloud.parseCSVLabelled`, default limits), with
/// an optional header line naming a `label` column. Also read with small limits to reach the limit checks.
/// Checked: points [n, d] with 1 ≤ d ≤ limit, finite; labels one per point, integers in 0…maxLabel.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = FuzzKit.bytes(data, size)
    if let r = try? DataFormat.csv.readWithClasses(b) {
        FuzzKit.note("points \(r.data.shape) labels \(r.labels.map { "\($0)" } ?? "none")")
        check(r.data, r.labels, PointCloud.Limits())
        FuzzKit.require(r.classNames == nil, "class names from a CSV")
    }
    if let text = String(validating: b, as: UTF8.self) {
        let small = PointCloud.Limits(maxPoints: 8, maxDimension: 3)
        if let r = try? PointCloud.parseCSVLabelled(text, limits: small) { check(r.points, r.labels, small) }
    }
    return 0
}

func check(_ x: Tensor, _ labels: [Int]?, _ limits: PointCloud.Limits) {
    FuzzKit.require(x.rank == 2, "points of rank \(x.rank)")
    FuzzKit.require((1...limits.maxPoints).contains(x.shape[0]), "\(x.shape[0]) points, limit \(limits.maxPoints)")
    FuzzKit.require((1...limits.maxDimension).contains(x.shape[1]), "dimension \(x.shape[1]), limit \(limits.maxDimension)")
    FuzzKit.require(x.isFinite, "a non-finite coordinate")
    if let labels {
        FuzzKit.require(labels.count == x.shape[0], "\(labels.count) labels for \(x.shape[0]) points")
        FuzzKit.require(labels.allSatisfy { (0...PointCloud.maxLabel).contains($0) }, "a label outside 0…\(PointCloud.maxLabel)")
    }
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
