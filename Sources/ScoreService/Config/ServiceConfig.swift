import Foundation
import HTTPServer
import ScoreEngine

/// The service's settings: `config/default.json`, then environment variables (`SCORED_` and the key path in
/// capitals joined by `_`, e.g. `SCORED_PORT`, `SCORED_WORKERS_TRAIN`, `SCORED_LIMITS_MAX_BODY_BYTES`), then
/// `scored serve` flags. Every key is validated; unknown keys are refused.
public struct ServiceConfig: Sendable {
    public var hosts: [String] = ["127.0.0.1"]
    public var port = 8080
    public var dataDir = "data"
    public var publicDir = "public"
    /// Where the built-in image data sets live (`mnist/` with the IDX files).
    public var datasetsDir = "datasets"
    /// Where the records and artifacts live: `sqlite` (a file in the data directory, one process) or a
    /// PostgreSQL URL (`postgres://user[:password]@host[:port]/db`: any number of API and worker nodes).
    public var store = "sqlite"
    /// A file holding the PostgreSQL password (a mounted secret), when the URL has none.
    public var storePasswordFile: String? = nil
    /// This process's name among the nodes sharing a store (unique; default: host name, process id and a
    /// random suffix). PostgreSQL sessions carry it as `scored <name>`.
    public var nodeName: String? = nil
    /// Seconds a claim on a running job lasts without a heartbeat (renewed every third of it); a job whose
    /// lease lapses is requeued by any node.
    public var leaseSeconds: Double = 30
    /// Times a job is started before a lapsed lease fails it instead of requeuing it.
    public var maxAttempts = 5
    /// Jobs a lane runs at once. Sampling jobs running together take turns at the lane's compute slots
    /// (`threads`) and batch their waiting evaluations of the same model (`SharedEvaluations`), and a small one
    /// is not queued behind a large one.
    public var workers: [Lane: Int] = [.train: 1, .sample: 4]
    /// Threads each job of a lane computes on (training shards, sampling chunks); for sampling, also the slots
    /// of the shared evaluations (a stored model's evaluations by sampling jobs; likelihood jobs and a guided
    /// job's classifier compute on their own threads).
    public var threads: [Lane: Int] = [.train: 2, .sample: 2]
    /// Queued jobs per lane before POSTs are refused with 429.
    public var maxQueuedJobs = 64
    /// Finished jobs, results and models are deleted after this many hours (0: kept).
    public var retentionHours: Double = 168
    /// Training jobs save their state this often (and when the service stops).
    public var checkpointEverySeconds: Double = 10
    public var maxBodyBytes = 64 << 20
    public var maxHeaderBytes = 16384
    /// Open connections at once (an idle keep-alive connection or an event stream costs a descriptor, not a
    /// thread); the process's descriptor limit is raised to allow them where it can be.
    public var maxConnections = 16384
    public var requestTimeoutSeconds: Double = 30
    public var idleTimeoutSeconds: Double = 60
    /// Seconds a response may wait without progress for a client that does not read.
    public var sendTimeoutSeconds: Double = 30
    /// HTTPS: PEM certificate chain and private key (both or neither); SIGHUP reloads them.
    public var tlsCertificate: String? = nil
    public var tlsPrivateKey: String? = nil
    public var tlsHandshakeTimeoutSeconds: Double = 10
    /// Plain-HTTP listeners kept beside HTTPS (e.g. `127.0.0.1:8081` for health checks).
    public var tlsPlainListen: [HTTPServer.Address] = []
    /// Largest n of one sampling request.
    public var maxSamples = 100_000
    public var logLevel = "info"
    /// Origins whose pages may call the API from a browser (CORS): exact origins (`https://app.example.com`),
    /// or `*` for any; none by default.
    public var corsAllowedOrigins: [String] = []
    /// Ask every request for an API key even on loopback without keys. Listening on any other address, or once
    /// a key exists, the service always does.
    public var authRequired = false
    /// Limits of each key that sets none of its own.
    public var keyLimits = KeyLimits(maxJobs: 8, maxUploadBytes: 1 << 30, maxSamples: 10_000)

    /// Whether it listens only on loopback addresses (127.0.0.0/8, ::1, localhost).
    public var loopbackOnly: Bool {
        (hosts + tlsPlainListen.map(\.host)).allSatisfy { h in h == "localhost" || ServiceConfig.isLoopbackAddress(h) }
    }

    /// Whether it serves HTTPS.
    public var tlsEnabled: Bool { tlsCertificate != nil }

    /// Whether the store is PostgreSQL (shared by several nodes).
    public var sharedStore: Bool { store != "sqlite" }

    /// The PostgreSQL password from `store_password_file` (its first line), if one is set.
    func storePassword() throws -> String? {
        guard let path = storePasswordFile else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "store_password_file: cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }

    /// Checks what single settings cannot: the certificate and key come together; plain listeners need HTTPS.
    public func validate() throws {
        if storePasswordFile != nil && !sharedStore {
            throw Invalid(description: "store_password_file is the PostgreSQL password; the store is sqlite")
        }
        if (tlsCertificate == nil) != (tlsPrivateKey == nil) {
            throw Invalid(description: "tls.certificate and tls.private_key must be given together (\(tlsCertificate == nil ? "tls.certificate" : "tls.private_key") is missing)")
        }
        if !tlsPlainListen.isEmpty && !tlsEnabled {
            throw Invalid(description: "tls.plain_listen adds plain-HTTP listeners beside HTTPS; without tls.certificate every listener is plain already")
        }
    }

    /// Parses `host:port` (`[::1]:8081` for IPv6).
    static func parseAddress(_ text: String) -> HTTPServer.Address? {
        let host: String, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return HTTPServer.Address(host: host, port: port)
    }

    /// Whether `text` is a numeric loopback address: IPv4 in 127.0.0.0/8 or IPv6 ::1 (a name such as
    /// `127.example.net` is not).
    public static func isLoopbackAddress(_ text: String) -> Bool {
        let t = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        var v4 = in_addr()
        if inet_pton(AF_INET, t, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, t, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { b in b.prefix(15).allSatisfy { $0 == 0 } && b[15] == 1 }
        }
        return false
    }

    /// The SQLite store in the data directory.
    public var storePath: String { URL(fileURLWithPath: dataDir, isDirectory: true).appendingPathComponent("store.db").path }

    /// Whether requests need a key whatever the store holds.
    public var authAlwaysRequired: Bool { authRequired || !loopbackOnly }

    public init() {}

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a JSON configuration document over the defaults.
    public mutating func apply(json: JSONValue, source: String) throws {
        guard case .object(let o) = json else { throw Invalid(description: "\(source): expected a JSON object") }
        for (key, value) in o {
            try set(key, value, source: source)
        }
    }

    /// Every setting as (key path, current value), the keys environment variables can override.
    public static let keys: [String] = [
        "host", "port", "data_dir", "public_dir", "datasets_dir", "store", "store_password_file", "node_name", "lease_seconds",
        "max_attempts", "workers.train", "workers.sample", "threads.train", "threads.sample",
        "max_queued_jobs", "retention_hours", "checkpoint_every_seconds", "limits.max_body_bytes",
        "limits.max_header_bytes", "limits.max_connections", "limits.request_timeout_seconds",
        "limits.idle_timeout_seconds", "limits.send_timeout_seconds", "limits.max_samples", "log_level", "cors.allowed_origins",
        "tls.certificate", "tls.private_key", "tls.handshake_timeout_seconds", "tls.plain_listen",
        "auth.required", "auth.max_jobs", "auth.max_upload_bytes", "auth.max_samples",
    ]

    /// Applies `SCORED_…` variables from `environment`.
    public mutating func apply(environment: [String: String]) throws {
        for key in ServiceConfig.keys {
            let name = "SCORED_" + key.replacingOccurrences(of: ".", with: "_").uppercased()
            guard let text = environment[name] else { continue }
            // Numbers and lists as JSON, anything else as a string.
            let value = (try? JSONValue(parsing: text)) ?? .string(text)
            try setPath(key, value, source: name)
        }
    }

    /// Sets one key from a command-line flag.
    public mutating func setFlag(_ key: String, _ value: JSONValue) throws { try setPath(key, value, source: "--\(key)") }

    mutating func set(_ key: String, _ value: JSONValue, source: String) throws {
        switch (key, value) {
        case ("workers", .object(let o)), ("threads", .object(let o)), ("limits", .object(let o)), ("cors", .object(let o)), ("auth", .object(let o)),
             ("tls", .object(let o)):
            for (k, v) in o { try setPath("\(key).\(k)", v, source: source) }
        default:
            try setPath(key, value, source: source)
        }
    }

    mutating func setPath(_ key: String, _ value: JSONValue, source: String) throws {
        func bad(_ what: String) -> Invalid { Invalid(description: "\(source): \(key) \(what)") }
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard case .number(let v) = value, v == v.rounded(), range.contains(Int(v)) else { throw bad("must be an integer in \(range)") }
            return Int(v)
        }
        func double(_ range: ClosedRange<Double>) throws -> Double {
            guard case .number(let v) = value, range.contains(v) else { throw bad("must be a number in \(range)") }
            return v
        }
        /// A list: a JSON array of strings, or one string of comma-separated items (an environment variable).
        func strings(_ what: String) throws -> [String] {
            switch value {
            case .string(let s): return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            case .array(let a): return try a.map { if case .string(let s) = $0 { return s }; throw bad("must list \(what) as strings") }
            default: throw bad("must be a list of \(what)")
            }
        }
        func string() throws -> String {
            guard case .string(let s) = value, !s.isEmpty else { throw bad("must be a non-empty string") }
            return s
        }
        switch key {
        case "host":
            switch value {
            case .string(let s): hosts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            case .array(let a):
                hosts = try a.map { if case .string(let s) = $0 { return s }; throw bad("must list address strings") }
            default: throw bad("must be an address or a list of addresses")
            }
            if hosts.isEmpty { throw bad("must name at least one address") }
        case "port": port = try int(0...65535)
        case "data_dir": dataDir = try string()
        case "public_dir": publicDir = try string()
        case "datasets_dir": datasetsDir = try string()
        case "workers.train": workers[.train] = try int(0...64)
        case "workers.sample": workers[.sample] = try int(0...64)
        case "store":
            let v = try string()
            guard v == "sqlite" || v.hasPrefix("postgres://") || v.hasPrefix("postgresql://") else {
                throw bad("must be sqlite or a PostgreSQL URL (postgres://user@host:5432/db)")
            }
            store = v
        case "store_password_file":
            switch value {
            case .null: storePasswordFile = nil
            case .string(let s): storePasswordFile = s.isEmpty ? nil : s
            default: throw bad("must be a file path (or null for none)")
            }
        case "node_name":
            if value == .null { nodeName = nil; break }
            let v = try string()
            guard v.count <= 40, v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw bad("must be at most 40 letters, digits, '-', '_' or '.'")
            }
            nodeName = v
        case "lease_seconds": leaseSeconds = try double(1...3600)
        case "max_attempts": maxAttempts = try int(1...1000)
        case "threads.train": threads[.train] = try int(1...64)
        case "threads.sample": threads[.sample] = try int(1...64)
        case "max_queued_jobs": maxQueuedJobs = try int(1...1_000_000)
        case "retention_hours": retentionHours = try double(0...1e6)
        case "checkpoint_every_seconds": checkpointEverySeconds = try double(0.1...1e6)
        case "limits.max_body_bytes": maxBodyBytes = try int(1024...(1 << 34))
        case "limits.max_header_bytes": maxHeaderBytes = try int(1024...(1 << 20))
        case "limits.max_connections": maxConnections = try int(1...1_000_000)
        case "limits.send_timeout_seconds": sendTimeoutSeconds = try double(0.1...3600)
        case "tls.certificate", "tls.private_key":
            var path: String? = nil
            switch value {
            case .null: path = nil
            case .string(let s): path = s.isEmpty ? nil : s
            default: throw bad("must be a file path (or null for none)")
            }
            if key == "tls.certificate" { tlsCertificate = path } else { tlsPrivateKey = path }
        case "tls.handshake_timeout_seconds": tlsHandshakeTimeoutSeconds = try double(0.1...600)
        case "tls.plain_listen":
            tlsPlainListen = try strings("host:port addresses").map { t in
                guard let a = ServiceConfig.parseAddress(t) else { throw bad("must list addresses as host:port ([::1]:8081 for IPv6); \(t) is not one") }
                return a
            }
        case "limits.request_timeout_seconds": requestTimeoutSeconds = try double(0.1...3600)
        case "limits.idle_timeout_seconds": idleTimeoutSeconds = try double(0.1...86400)
        case "limits.max_samples": maxSamples = try int(1...10_000_000)
        case "auth.required":
            switch value {
            case .bool(let b): authRequired = b
            case .string("true"): authRequired = true
            case .string("false"): authRequired = false
            default: throw bad("must be true or false")
            }
        case "auth.max_jobs": keyLimits.maxJobs = try int(1...1_000_000)
        case "auth.max_upload_bytes": keyLimits.maxUploadBytes = try int(0...(1 << 50))
        case "auth.max_samples": keyLimits.maxSamples = try int(1...10_000_000)
        case "log_level":
            let s = try string()
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(s) else {
                throw bad("must be trace, debug, info, notice, warning, error or critical")
            }
            logLevel = s
        case "cors.allowed_origins":
            let items = try strings("origins")
            for o in items where o != "*" {
                guard let u = URLComponents(string: o), let scheme = u.scheme, ["http", "https"].contains(scheme), u.host?.isEmpty == false,
                      u.path.isEmpty, u.query == nil, u.fragment == nil else {
                    throw bad("must list origins as scheme://host[:port] (no path), or *; \(o) is not one")
                }
            }
            corsAllowedOrigins = items
        default:
            throw Invalid(description: "\(source): unknown setting \(key) (known: \(ServiceConfig.keys.joined(separator: ", ")))")
        }
    }

    /// Loads a configuration file (if it exists), then the environment.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceConfig {
        var c = ServiceConfig()
        let named = file ?? environment["SCORED_CONFIG"]
        let path = named ?? "config/default.json"
        if let data = FileManager.default.contents(atPath: path) {
            do { try c.apply(json: try JSONValue(parsing: data), source: path) } catch let e as JSONValue.ParseError {
                throw Invalid(description: "\(path): \(e)")
            }
        } else if named != nil {
            throw Invalid(description: "\(path): no such file")
        }
        try c.apply(environment: environment)
        return c
    }

    var httpConfiguration: HTTPServer.Configuration {
        var h = HTTPServer.Configuration()
        h.hosts = hosts
        h.port = port
        h.maxConnections = maxConnections
        h.requestTimeout = requestTimeoutSeconds
        h.idleTimeout = idleTimeoutSeconds
        h.sendTimeout = sendTimeoutSeconds
        h.spoolDirectory = URL(fileURLWithPath: dataDir, isDirectory: true).appendingPathComponent("tmp").path
        if let cert = tlsCertificate, let key = tlsPrivateKey {
            h.tls = TLSConfiguration(certificatePath: cert, privateKeyPath: key, handshakeTimeout: tlsHandshakeTimeoutSeconds)
            h.plainListeners = tlsPlainListen
        }
        h.limits.maxBodyBytes = maxBodyBytes
        h.streamBodies = true  // the router awaits a body unless its route reads it as it arrives
        h.limits.maxHeaderBytes = maxHeaderBytes
        return h
    }
}
