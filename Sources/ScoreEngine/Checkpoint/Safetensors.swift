import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …, "__metadata__": {string: string}}`, then the
/// raw little-endian tensor bytes. Tensors are read as F32 (F16, BF16 and F64 are converted); written as F32.
public enum Safetensors {
    public struct File: Sendable {
        public var tensors: [String: Tensor]
        /// Names in the order they appear in the data section.
        public var order: [String]
        public var metadata: [String: String]

        public init(tensors: [(String, Tensor)], metadata: [String: String] = [:]) {
            self.tensors = Dictionary(tensors, uniquingKeysWith: { _, b in b })
            self.order = tensors.map(\.0)
            self.metadata = metadata
        }

        public subscript(name: String) -> Tensor? { tensors[name] }
    }

    public enum Error: Swift.Error, CustomStringConvertible {
        case malformed(String)
        public var description: String {
            switch self { case .malformed(let m): return "invalid safetensors file: \(m)" }
        }
    }

    /// Largest header accepted (the format's own reference implementation allows 100 MB).
    static let maxHeader = 100_000_000

    public static func read(_ data: Data) throws -> File {
        guard data.count >= 8 else { throw Error.malformed("shorter than its 8-byte header length") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(maxHeader), 8 + Int(n) <= data.count else { throw Error.malformed("header length \(n)") }
        let headerData = data.subdata(in: data.startIndex + 8 ..< data.startIndex + 8 + Int(n))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw Error.malformed("header is not a JSON object")
        }
        let body = data.startIndex + 8 + Int(n)
        let bodyCount = data.count - 8 - Int(n)
        var metadata: [String: String] = [:]
        var entries: [(String, Int, Tensor)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw Error.malformed("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw Error.malformed("metadata \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offs = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offs.count == 2, shape.count == (info["shape"] as? [Any])?.count
            else { throw Error.malformed("entry \(name)") }
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[0] <= offs[1], offs[1] <= bodyCount else {
                throw Error.malformed("offsets or shape of \(name)")
            }
            // Sizes from the file are checked for overflow before they are used.
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw Error.malformed("shape of \(name) is too large") }
                count = p
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            case "F64": width = 8
            default: throw Error.malformed("dtype \(dtype) of \(name) (F32, F16, BF16, F64 are read)")
            }
            let (bytesNeeded, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow, offs[1] - offs[0] == bytesNeeded else { throw Error.malformed("byte size of \(name)") }
            let bytes = data.subdata(in: body + offs[0] ..< body + offs[1])
            let scalars: [Float] = bytes.withUnsafeBytes { raw in
                (0..<count).map { i in
                    switch dtype {
                    case "F32": return Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)
                    case "F64": return Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian))
                    case "BF16":
                        let h = UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
                        return Float(bitPattern: h << 16)
                    default:
                        let h = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian
                        return Float(Float16(bitPattern: h))
                    }
                }
            }
            entries.append((name, offs[0], Tensor(shape: shape, scalars: scalars)))
        }
        entries.sort { $0.1 < $1.1 }
        return File(tensors: entries.map { ($0.0, $0.2) }, metadata: metadata)
    }

    public static func read(contentsOf url: URL) throws -> File {
        try read(Data(contentsOf: url))
    }

    /// Serialises tensors (in the given order) and string metadata.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, t) in tensors {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces, as the reference writer does
        var out = Data(capacity: 8 + json.count + offset)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors where t.count > 0 {
            t.scalars.withUnsafeBufferPointer { buf in
                #if _endian(little)
                out.append(UnsafeBufferPointer(start: UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                               count: 4 * buf.count))
                #else
                for v in buf { var b = v.bitPattern.littleEndian; withUnsafeBytes(of: &b) { out.append(contentsOf: $0) } }
                #endif
            }
        }
        return out
    }
}
