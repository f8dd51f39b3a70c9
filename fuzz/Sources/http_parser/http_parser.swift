import FuzzKit
import HTTPServer

/// The request path of a connection (`Connection.process`), minus the socket and the event loop: the input's first byte sets how
/// many bytes each simulated read delivers (1…64), the rest is what the client sends. Requests are read in
/// turn (pipelining) as the connection does: find the head's end while checking the partial head, parse it,
/// then read a fixed-length or chunked body, with small limits. Checked besides "no crash": the chunked decoder
/// gives the same body whether the bytes arrive in pieces or at once, and parsed heads are well formed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let step = Int(data[0] % 64) + 1
    let input = FuzzKit.bytes(data + 1, size - 1)
    var limits = HTTPParser.Limits()
    limits.maxRequestLine = 512
    limits.maxHeaderBytes = 1024
    limits.maxHeaderCount = 16
    limits.maxBodyBytes = 2048

    var buffer: [UInt8] = []
    var fed = 0
    func readMore() -> Bool {
        guard fed < input.count else { return false }
        let n = min(step, input.count - fed)
        buffer += input[fed..<(fed + n)]
        fed += n
        return true
    }

    for _ in 0..<64 {
        // 1. The head.
        var scanned = 0, checked = 0
        var end: Int? = nil
        while true {
            if let e = HTTPParser.headEnd(buffer, from: scanned) { end = e; break }
            scanned = max(0, buffer.count - 3)
            do { try HTTPParser.checkPartial(buffer, from: checked, limits: limits) } catch let f as HTTPParser.Failure {
                FuzzKit.require((400...599).contains(f.status), "status \(f.status)")
                return 0
            } catch { FuzzKit.require(false, "checkPartial threw \(error)") }
            checked = buffer.count
            guard readMore() else { return 0 }
        }
        let headEnd = end!
        FuzzKit.require(headEnd >= 4 && headEnd <= buffer.count, "head end \(headEnd) of \(buffer.count)")
        FuzzKit.require(buffer[(headEnd - 4)..<headEnd].elementsEqual([13, 10, 13, 10]), "head not ended by CRLF CRLF")
        let head: HTTPParser.Head
        do { head = try HTTPParser.parseHead(buffer[0..<headEnd], limits: limits) } catch let f as HTTPParser.Failure {
            FuzzKit.require((400...599).contains(f.status), "status \(f.status)")
            return 0
        } catch { FuzzKit.require(false, "parseHead threw \(error)"); return 0 }
        FuzzKit.require(!head.method.isEmpty, "empty method")
        FuzzKit.require(head.target.hasPrefix("/") || head.target == "*", "target \(head.target)")
        FuzzKit.require(head.version.major == 1 && (head.version.minor == 0 || head.version.minor == 1), "version \(head.version)")
        FuzzKit.require(head.headers.fields.count <= limits.maxHeaderCount, "\(head.headers.fields.count) header fields")
        buffer.removeFirst(headEnd)

        // 2. The body.
        var body: [UInt8] = []
        switch head.framing {
        case .none:
            break
        case .length(let n):
            FuzzKit.require(n > 0 && n <= limits.maxBodyBytes, "Content-Length \(n) passed")
            while buffer.count < n {
                guard readMore() else { return 0 }
            }
            body = Array(buffer[0..<n])
            buffer.removeFirst(n)
        case .chunked:
            var decoder = HTTPParser.ChunkedDecoder(maxBody: limits.maxBodyBytes)
            var pos = 0
            while true {
                do { pos = try decoder.feed(buffer, from: pos) } catch let f as HTTPParser.Failure {
                    FuzzKit.require((400...599).contains(f.status), "status \(f.status)")
                    return 0
                } catch { FuzzKit.require(false, "feed threw \(error)") }
                FuzzKit.require(pos <= buffer.count, "decoder consumed \(pos) of \(buffer.count)")
                if decoder.isDone { break }
                guard readMore() else { return 0 }
            }
            body = decoder.body
            FuzzKit.require(body.count <= limits.maxBodyBytes, "chunked body of \(body.count) bytes")
            // The same bytes at once decode to the same body, ending at the same place.
            let all = Array(buffer[0..<pos])
            var whole = HTTPParser.ChunkedDecoder(maxBody: limits.maxBodyBytes)
            let p = try? whole.feed(all, from: 0)
            FuzzKit.require(p == pos && whole.isDone && whole.body == body, "the chunked body depends on how its bytes arrive")
            buffer.removeFirst(pos)
        }

        FuzzKit.note("\(head.method) \(head.target) \(head.framing) body \(body.count)")
        // 3. What the responder reads of the request.
        let request = HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers, body: body)
        _ = request.path
        _ = request.queryItems
        _ = request.headers["Content-Type"]
        if !request.keepAlive { return 0 }
    }
    return 0
}

@main
enum Main {
    static func main() {
        FuzzKit.run { data, size in data.map { fuzz($0, size) } ?? 0 }
    }
}
