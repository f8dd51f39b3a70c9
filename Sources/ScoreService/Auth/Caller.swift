import Foundation

/// Who a request comes from: a key, or nobody when the service is open (loopback without keys). Work done
/// outside a request (the job workers, retention) runs as `system`. Jobs, models and uploads are owned by the
/// key that made them (`owner`, nil when made without one); a caller sees what it owns, an admin key and the
/// open or system caller see everything.
public struct Caller: Sendable {
    public let key: APIKeyRecord?
    /// The limits that apply to it (nil: none).
    let limits: KeyLimits?

    static let system = Caller(key: nil, limits: nil)

    /// The owner recorded on what it creates.
    var owner: String? { key?.owner }

    var isAdmin: Bool { key == nil || key!.scope == .admin }

    /// Whether it may see a resource owned by `owner`.
    func sees(_ owner: String?) -> Bool { isAdmin || owner == key?.owner }

    /// The owner filter of its listings: nil for everything.
    var listingOwner: String?? { isAdmin ? nil : .some(key?.owner) }

    /// The caller of the request being handled (bound by `AuthMiddleware` around the handler; handlers run on
    /// the thread that reads their request).
    @TaskLocal static var current = Caller.system
}

extension Caller {
    /// Refuses a request for more than the key's `max_samples` items (samples, completions, items evaluated).
    func checkSamples(_ count: Int, _ what: String) throws {
        if let max = limits?.maxSamples, count > max {
            throw limitReached("\(count) \(what) in one request; this key may ask for \(max) at a time", retryAfter: 1)
        }
    }
}

/// A per-key limit reached: 429 with `Retry-After`.
func limitReached(_ what: String, retryAfter: Int = 30) -> APIError {
    var e = APIError(status: 429, code: "limit_reached", message: what)
    e.headers = [("Retry-After", String(retryAfter))]
    return e
}
