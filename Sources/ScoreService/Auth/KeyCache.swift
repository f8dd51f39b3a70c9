import Foundation
import Synchronization

/// Keys by id as the store has them, each kept for a second: the service asks the store once a second per key,
/// not on every request. Keys revoked over HTTP are forgotten at once; keys revoked by `scored keys revoke` (another
/// process on the same store) are refused from at most a second later. Whether any key exists is cached the
/// same way (once it is true it stays true: keys are revoked, never deleted).
final class KeyCache: Sendable {
    let store: any RecordStore
    let seconds: Double
    private let entries = Mutex<[String: (key: APIKeyRecord?, at: Double)]>([:])
    private let anyKeys = Mutex<(value: Bool, at: Double)>((false, -Double.infinity))

    init(store: any RecordStore, seconds: Double = 1) {
        self.store = store
        self.seconds = seconds
    }

    func key(_ id: String) throws -> APIKeyRecord? {
        let now = ProcessInfo.processInfo.systemUptime
        if let e = entries.withLock({ $0[id] }), now - e.at < seconds { return e.key }
        let k = try store.key(id)
        entries.withLock { c in
            if c.count > 10_000 { c.removeAll() }  // ids of unknown keys are remembered too, bounded
            c[id] = (k, now)
        }
        return k
    }

    func hasKeys() throws -> Bool {
        let now = ProcessInfo.processInfo.systemUptime
        let cached = anyKeys.withLock { $0 }
        if cached.value || now - cached.at < seconds { return cached.value }
        let v = try store.hasKeys()
        anyKeys.withLock { $0 = (v, now) }
        return v
    }

    /// Drops what is known of a key (after it changed in this process).
    func forget(_ id: String) {
        entries.withLock { $0[id] = nil }
        anyKeys.withLock { $0.at = -Double.infinity }
    }
}
