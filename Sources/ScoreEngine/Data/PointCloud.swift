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
        let value: JSONValue
        do { value = try JSONValue(parsing: data) } catch let e as JSONValue.ParseError { throw Invalid(e.description) }
        let rowsValue: [JSONValue]
        switch value {
        case .object(let o):
            guard case .array(let p)? = o["points"] else { throw Invalid("expected an object with an array \"points\"") }
            rowsValue = p
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
        return try tensor(rows, limits)
    }

    public static func parseCSV(_ text: String, limits: Limits = Limits()) throws -> Tensor {
        var rows: [[Double]] = []
        for (lineNumber, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" }).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let values = fields.map { Double($0) }
            if values.contains(where: { $0 == nil }) {
                if rows.isEmpty && lineNumber == 0 { continue }  // a header line
                throw Invalid("line \(lineNumber + 1): not a comma-separated list of numbers")
            }
            rows.append(values.map { $0! })
            if rows.count > limits.maxPoints { break }
        }
        return try tensor(rows, limits)
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
