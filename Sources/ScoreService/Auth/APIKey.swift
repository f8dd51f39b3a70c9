import COpenSSL
import Foundation
import ScoreEngine

/// What a key may do. `read`: GET the caller's own jobs, models and data sets (and the built-in ones);
/// `submit`: also train, sample, evaluate, upload, cancel and delete its own; `admin`: everything, including
/// other keys' resources and the keys themselves.
public enum Scope: String, Sendable, CaseIterable, Comparable {
    case read, submit, admin

    var rank: Int { Scope.allCases.firstIndex(of: self)! }
    public static func < (a: Scope, b: Scope) -> Bool { a.rank < b.rank }

    /// Whether a key of this scope may call a route that needs `needed`.
    func allows(_ needed: Scope) -> Bool { self >= needed }
}

/// Per-key limits; nil fields take the configuration's defaults (`auth.max_jobs`, …).
public struct KeyLimits: Sendable, Equatable {
    /// Queued and running jobs at once.
    public var maxJobs: Int?
    /// Bytes of uploads kept (the bodies of the key's data sets).
    public var maxUploadBytes: Int?
    /// Samples (n) of one request.
    public var maxSamples: Int?

    public init(maxJobs: Int? = nil, maxUploadBytes: Int? = nil, maxSamples: Int? = nil) {
        self.maxJobs = maxJobs
        self.maxUploadBytes = maxUploadBytes
        self.maxSamples = maxSamples
    }

    /// These limits over `defaults` where they are unset.
    func over(_ defaults: KeyLimits) -> KeyLimits {
        KeyLimits(maxJobs: maxJobs ?? defaults.maxJobs, maxUploadBytes: maxUploadBytes ?? defaults.maxUploadBytes,
                  maxSamples: maxSamples ?? defaults.maxSamples)
    }

    var json: JSONValue {
        ["max_jobs": maxJobs.map { .number(Double($0)) } ?? .null, "max_upload_bytes": maxUploadBytes.map { .number(Double($0)) } ?? .null,
         "max_samples": maxSamples.map { .number(Double($0)) } ?? .null]
    }
}

/// An API key as stored: never the token, only the SHA-256 of its secret part.
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var scope: Scope
    /// SHA-256 of the token's secret, 32 bytes.
    public var secretHash: [UInt8]
    public var createdAt: Double
    public var revokedAt: Double?
    public var limits: KeyLimits
    /// The key whose jobs, models and uploads this one works on (a read-only key for a dashboard, say); nil:
    /// its own.
    public var actsFor: String?

    /// The owner of what it makes and sees.
    public var owner: String { actsFor ?? id }

    public var isRevoked: Bool { revokedAt != nil }

    /// The key as listed (no hash).
    public var json: JSONValue {
        ["id": .string(id), "name": .string(name), "scope": .string(scope.rawValue), "created_at": Timestamp.json(createdAt),
         "revoked_at": revokedAt.map(Timestamp.json) ?? .null, "limits": limits.json, "acts_for": actsFor.map { .string($0) } ?? .null]
    }
}

/// Bearer tokens: `scd_<key id>_<secret>`, the key id naming the stored record (`k_…`) and 32 random bytes of
/// secret in hex. The store keeps SHA-256(secret) (libcrypto's EVP interface); a presented token is checked by
/// hashing its secret and comparing the digests in constant time (`CRYPTO_memcmp`), so neither the token nor
/// the time a comparison takes says anything about a stored key.
public enum APIToken {
    static let prefix = "scd_"

    /// A new key's id, token and the hash to store.
    static func generate() -> (id: String, token: String, hash: [UInt8]) {
        let id = newID("k")
        var g = SystemRandomNumberGenerator()  // getrandom(2) on Linux: a cryptographic source
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
        return (id, prefix + id + "_" + secret, sha256(Array(secret.utf8)))
    }

    /// The key id and secret of a well-formed token.
    static func parse(_ token: String) -> (id: String, secret: String)? {
        guard token.hasPrefix(prefix), token.utf8.count <= 200 else { return nil }
        let rest = token.dropFirst(prefix.count)
        // The id is "k_" and 14 characters; the secret follows its separator.
        guard rest.hasPrefix("k_"), rest.count > 17 else { return nil }
        let id = String(rest.prefix(16)), tail = rest.dropFirst(16)
        guard tail.first == "_", tail.count > 1 else { return nil }
        return (id, String(tail.dropFirst()))
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { b in EVP_Digest(b.baseAddress, b.count, &out, &length, EVP_sha256(), nil) }
        precondition(ok == 1 && length == 32, "libcrypto's SHA-256 failed")
        return Array(out.prefix(32))
    }

    /// Whether `secret` hashes to `hash`, in time independent of where they differ.
    static func matches(_ secret: String, _ hash: [UInt8]) -> Bool {
        let h = sha256(Array(secret.utf8))
        guard hash.count == h.count else { return false }
        return h.withUnsafeBytes { a in hash.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, h.count) == 0 } }
    }
}

extension APIKeyRecord {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let b = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}
