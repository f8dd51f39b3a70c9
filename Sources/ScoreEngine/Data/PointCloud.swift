import Foundation

/// User point clouds: JSON (`{"points": [[x, y], …]}` or a bare array of rows) or CSV (one point per line,
/// comma-separated, an optional header line). Every value must be a finite number and every row of the same
/// dimension, within the given limits.
public enum PointCloud {
    public struct Limits: Sendable {
        public var maxPoints: Int
        public var maxDimension: Int
        public init(maxPoints: Int = 1_000_000, maxDimension: Int = 64) {
            self.maxPoints = maxPoints
            self.maxDimension = maxDimension
        }
    }

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(_ d: String) { description = d }
    }

    public static func parseJSON(_ data: some Collection<UInt8>, limits: Limits = Limits()) throws -> Tensor {
        try parseJSONLabelled(data, limits: limits).points
    }

    /// Labels: `{"points": …, "labels": [0, 2, …]}` (one integer per point).
    public static func parseJSONLabelled(_ data: some Collection<UInt8>, limits: Limits = Limits()) throws -> (points: Tensor, labels: [Int]?) {
        let value: JSONValue
        do { value = try JSONValue(parsing: data) } catch let e as JSONValue.ParseError { throw Invalid(e.description) }
        let rowsValue: [JSONValue]
        var labels: [Int]? = nil
        switch value {
        case .object(let o):
            guard case .array(let p)? = o["points"] else { throw Invalid("expected an object with an array \"points\"") }
            rowsValue = p
            if let l = o["labels"] {
                guard case .array(let items) = l else { throw Invalid("labels must be an array of integers") }
                labels = try items.enumerated().map { i, v in
                    guard let x = v.number, x == x.rounded(), x >= 0, x <= Double(maxLabel) else {
                        throw Invalid("label \(i) is not an integer in 0…\(maxLabel)")
                    }
                    return Int(x)
                }
            }
        case .array(let a): rowsValue = a
        default: throw Invalid("expected {\"points\": [[x, y], …]} or an array of points")
        }
        guard rowsValue.count <= limits.maxPoints else { throw Invalid("more than \(limits.maxPoints) points") }
        let rows: [[Double]] = try rowsValue.enumerated().map { i, r in
            guard case .array(let coords) = r else { throw Invalid("point \(i) is not an array of numbers") }
            return try coords.enumerated().map { j, v in
                guard case .number(let x) = v else { throw Invalid("point \(i), coordinate \(j) is \(v.typeName), not a number") }
                return x
            }
        }
        let points = try tensor(rows, limits)
        if let labels, labels.count != rows.count { throw Invalid("\(labels.count) labels for \(rows.count) points") }
        return (points, labels)
    }

    /// Points with unknown coordinates, for imputation: JSON `{"points": [[0.5, null], …]}` (or a bare array)
    /// with null where a coordinate is unknown. Returns the values (0 where unknown) and the mask (1: known),
    /// both [n, d].
    public static func parsePartial(_ data: some Collection<UInt8>, limits: Limits = Limits()) throws -> (values: Tensor, mask: Tensor) {
        let value: JSONValue
        do { value = try JSONValue(parsing: data) } catch let e as JSONValue.ParseError { throw Invalid(e.description) }
        let rowsValue: [JSONValue]
        switch value {
        case .object(let o):
            guard o.keys.allSatisfy({ $0 == "points" }), let p = o["points"]?.array else {
                throw Invalid("expected {\"points\": [[x, null], …]} (null: a coordinate to impute)")
            }
            rowsValue = p
        case .array(let a): rowsValue = a
        default: throw Invalid("expected {\"points\": [[x, null], …]} (null: a coordinate to impute)")
        }
        guard !rowsValue.isEmpty else { throw Invalid("no points") }
        guard rowsValue.count <= limits.maxPoints else { throw Invalid("more than \(limits.maxPoints) points") }
        var values: [Float] = [], mask: [Float] = []
        var d = 0
        for (i, r) in rowsValue.enumerated() {
            guard let coords = r.array else { throw Invalid("point \(i) is not an array") }
            if i == 0 {
                d = coords.count
                guard d >= 1 && d <= limits.maxDimension else { throw Invalid("dimension \(d) is outside 1…\(limits.maxDimension)") }
            }
            guard coords.count == d else { throw Invalid("point \(i) has \(coords.count) coordinates, the first has \(d)") }
            for (j, c) in coords.enumerated() {
                switch c {
                case .null: values.append(0); mask.append(0)
                case .number(let x) where x.isFinite && abs(x) <= 1e30: values.append(Float(x)); mask.append(1)
                default: throw Invalid("point \(i), coordinate \(j) is neither a finite number nor null")
                }
            }
        }
        let n = rowsValue.count
        return (Tensor(shape: [n, d], scalars: values), Tensor(shape: [n, d], scalars: mask))
    }

    /// The largest label accepted.
    public static let maxLabel = 9_999

    public static func parseCSV(_ text: String, limits: Limits = Limits()) throws -> Tensor {
        try parseCSVLabelled(text, limits: limits).points
    }

    /// Labels: a header line naming one column `label` (integers), the others the coordinates.
    public static func parseCSVLabelled(_ text: String, limits: Limits = Limits()) throws -> (points: Tensor, labels: [Int]?) {
        var rows: [[Double]] = []
        var labelColumn: Int? = nil
        var labels: [Int] = []
        for (lineNumber, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline }).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values = fields.map { Double($0) }
            if values.contains(where: { $0 == nil }) {
                if rows.isEmpty && lineNumber == 0 {  // a header line
                    let names = fields.map { $0.lowercased() }
                    if names.filter({ $0 == "label" }).count > 1 { throw Invalid("line 1: more than one label column") }
                    labelColumn = names.firstIndex(of: "label")
                    continue
                }
                throw Invalid("line \(lineNumber + 1): not a comma-separated list of numbers")
            }
            var row = values.map { $0! }
            if let c = labelColumn {
                guard c < row.count else { throw Invalid("line \(lineNumber + 1): no label column") }
                let l = row.remove(at: c)
                guard l == l.rounded(), l >= 0, l <= Double(maxLabel) else {
                    throw Invalid("line \(lineNumber + 1): the label is not an integer in 0…\(maxLabel)")
                }
                labels.append(Int(l))
            }
            rows.append(row)
            if rows.count > limits.maxPoints { break }
        }
        return (try tensor(rows, limits), labelColumn == nil ? nil : labels)
    }

    static func tensor(_ rows: [[Double]], _ limits: Limits) throws -> Tensor {
        guard !rows.isEmpty else { throw Invalid("no points") }
        guard rows.count <= limits.maxPoints else { throw Invalid("more than \(limits.maxPoints) points") }
        let d = rows[0].count
        guard d >= 1 && d <= limits.maxDimension else { throw Invalid("dimension \(d) is outside 1…\(limits.maxDimension)") }
        var flat: [Float] = []
        flat.reserveCapacity(rows.count * d)
        for (i, r) in rows.enumerated() {
            guard r.count == d else { throw Invalid("point \(i) has \(r.count) coordinates, the first has \(d)") }
            for (j, v) in r.enumerated() {
                guard v.isFinite, abs(v) <= 1e30 else { throw Invalid("point \(i), coordinate \(j) is not a finite number") }
                flat.append(Float(v))
            }
        }
        return Tensor(shape: [rows.count, d], scalars: flat)
    }

    /// `{"points": [[x, y], …]}` with shortest round-tripping decimals.
    public static func json(_ x: Tensor) -> String {
        let n = x.shape[0], d = x.count / max(n, 1)
        var s = "["
        s.reserveCapacity(n * d * 12)
        for i in 0..<n {
            if i > 0 { s += "," }
            s += "["
            for j in 0..<d {
                if j > 0 { s += "," }
                let v = x.scalars[i * d + j]
                s += v.isFinite ? "\(v)" : "null"  // a diverged sample stays valid JSON
            }
            s += "]"
        }
        return s + "]"
    }
}
