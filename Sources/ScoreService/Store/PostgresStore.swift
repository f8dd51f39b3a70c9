import Foundation
import ScoreEngine

/// What nodes sharing a store tell each other (PostgreSQL's NOTIFY on one channel).
public enum StoreEvent: Sendable, Equatable {
    /// A job changed (its state, progress or preview); `node` is the sender, which knows already.
    case job(String, node: String)
    /// A user asked to cancel a running job: the node running it stops it.
    case cancel(String)
    /// A job was queued in this lane: idle workers claim.
    case wake(Lane)

    var payload: String {
        switch self {
        case .job(let id, let node): return "job \(id) \(node)"
        case .cancel(let id): return "cancel \(id)"
        case .wake(let lane): return "wake \(lane.rawValue)"
        }
    }

    init?(payload: String) {
        let p = payload.split(separator: " ").map(String.init)
        switch (p.first, p.count) {
        case ("job", 3): self = .job(p[1], node: p[2])
        case ("cancel", 2): self = .cancel(p[1])
        case ("wake", 2):
            guard let lane = Lane(rawValue: p[1]) else { return nil }
            self = .wake(lane)
        default: return nil
        }
    }
}

/// The store shared by several hosts: the records and the artifacts in PostgreSQL (`PostgresDatabase`,
/// libpq), claims with `FOR UPDATE SKIP LOCKED` under leases, events through LISTEN/NOTIFY. The schema is
/// versioned in `scored_schema` and migrated under an advisory lock, so that nodes starting together agree.
public final class PostgresStore: SQLRecordStore, RecordStore, @unchecked Sendable {
    let pg: PostgresDatabase
    static let channel = "scored_events"

    public init(url: String, password: String? = nil, applicationName: String, maxConnections: Int = 8) throws {
        pg = try PostgresDatabase(.init(url: url, password: password, applicationName: applicationName), maxConnections: maxConnections)
        try PostgresMigrations.run(on: pg)
        super.init(db: pg)
    }

    public var isShared: Bool { true }

    /// The schema version the database is at.
    public var schemaVersion: Int { get throws { try PostgresMigrations.current(pg) } }

    public func publish(_ event: StoreEvent) {
        _ = try? pg.query("SELECT pg_notify(?, ?)", [.text(PostgresStore.channel), .text(event.payload)])
    }

    /// Starts a listener for the events of every node (on its own connection and thread).
    func listen(_ handler: @escaping @Sendable (StoreEvent) -> Void, reconnected: @escaping @Sendable () -> Void) -> PostgresListener {
        let l = PostgresListener(target: pg.target, channel: PostgresStore.channel, handler: { payload in
            if let e = StoreEvent(payload: payload) { handler(e) }
        }, reconnected: reconnected)
        l.start()
        return l
    }

    /// Artifacts in the same database (no shared file system between hosts).
    public var artifacts: Artifacts { Artifacts(backend: PostgresArtifacts(db: pg)) }
}

/// Checkpoints, training states, results, uploads and loss series as rows: each artifact in chunks of at most
/// `chunkBytes` (so no single value is huge), replaced whole in one transaction. A write under a claim
/// (`Fence`) first takes a share lock on the job's row, so that it cannot interleave with a rescue: it lands
/// while the claim holds, or not at all.
struct PostgresArtifacts: ArtifactBackend {
    let db: PostgresDatabase
    static let chunkBytes = 1 << 20

    /// Inside a write's transaction: one writer of a key at a time, and the claim checked (and held) if fenced.
    private func begin(_ c: any SQLConnection, key: String, fence: Fence?) throws {
        try c.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [.text(key)])
        if let fence {
            let held = try c.query("SELECT 1 AS ok FROM jobs WHERE id = ? AND attempts = ? AND status = 'running' FOR SHARE",
                                   [.text(fence.job), .integer(Int64(fence.attempt))])
            if held.isEmpty { throw LeaseLost(fence: fence) }
        }
    }

    func write(_ data: Data, key: String, fence: Fence?) throws {
        try db.inTransaction { c in
            try begin(c, key: key, fence: fence)
            try c.execute("DELETE FROM artifacts WHERE key = ?", [.text(key)])
            let bytes = [UInt8](data)
            var chunk = 0, offset = 0
            repeat {
                let end = min(bytes.count, offset + PostgresArtifacts.chunkBytes)
                try c.execute("INSERT INTO artifacts (key, chunk, data) VALUES (?, ?, ?)",
                              [.text(key), .integer(Int64(chunk)), .blob(Array(bytes[offset..<end]))])
                chunk += 1
                offset = end
            } while offset < bytes.count
        }
    }

    func read(_ key: String) throws -> Data? {
        let rows = try db.query("SELECT data FROM artifacts WHERE key = ? ORDER BY chunk", [.text(key)])
        guard !rows.isEmpty else { return nil }
        var out = Data()
        for r in rows { out.append(contentsOf: r["data"]?.bytes ?? []) }
        return out
    }

    func remove(_ key: String, fence: Fence?) throws {
        try db.inTransaction { c in
            try begin(c, key: key, fence: fence)
            try c.execute("DELETE FROM artifacts WHERE key = ?", [.text(key)])
        }
    }
}

/// The PostgreSQL schema's versions. Version 1 is the SQLite schema as of its version 5, with a sequence
/// ordering the queue across hosts and the artifacts table; later versions append here.
enum PostgresMigrations {
    struct Migration {
        let version: Int
        let summary: String
        let statements: [String]
    }

    static let all: [Migration] = [
        Migration(version: 1, summary: "jobs (the queue, with leases), models, uploaded data sets, API keys, previews and artifacts", statements: [
            """
            CREATE TABLE jobs (seq BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
              created_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, progress TEXT, error TEXT,
              result TEXT, idempotency_key TEXT UNIQUE, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, node TEXT, worker TEXT,
              lease_until DOUBLE PRECISION, cancel_requested INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0)
            """,
            "CREATE INDEX jobs_queue ON jobs (status, kind, created_at, seq)",
            "CREATE INDEX jobs_owner ON jobs (owner, status)",
            "CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status = 'running'",
            "CREATE TABLE models (id TEXT PRIMARY KEY, job_id TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, info TEXT NOT NULL, owner TEXT)",
            """
            CREATE TABLE datasets (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL, shape TEXT NOT NULL,
              created_at DOUBLE PRECISION NOT NULL, classes INTEGER, owner TEXT, bytes BIGINT NOT NULL DEFAULT 0)
            """,
            """
            CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, secret_hash TEXT NOT NULL,
              created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION, max_jobs BIGINT, max_upload_bytes BIGINT,
              max_samples BIGINT, acts_for TEXT)
            """,
            "CREATE TABLE job_previews (job_id TEXT PRIMARY KEY, number INTEGER NOT NULL, body TEXT NOT NULL)",
            "CREATE TABLE artifacts (key TEXT NOT NULL, chunk INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (key, chunk))",
        ]),
    ]

    static var latest: Int { all.last!.version }

    static func current(_ db: PostgresDatabase) throws -> Int {
        try db.query("SELECT COALESCE(MAX(version), 0) AS v FROM scored_schema", []).first?["v"]?.int ?? 0
    }

    /// Applies the missing versions in one transaction, under a lock every node takes.
    static func run(on db: PostgresDatabase) throws {
        try db.inTransaction { c in
            try c.execute("SELECT pg_advisory_xact_lock(?)", [.integer(0x5C0_5C4E)])
            try c.execute("""
                CREATE TABLE IF NOT EXISTS scored_schema (version INTEGER PRIMARY KEY, summary TEXT NOT NULL,
                  applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """)
            let current = try c.query("SELECT COALESCE(MAX(version), 0) AS v FROM scored_schema", []).first?["v"]?.int ?? 0
            guard current <= latest else {
                throw PostgresDatabase.Error(description: "the database is at schema version \(current); this release reads up to \(latest)")
            }
            for m in all where m.version > current {
                for s in m.statements { try c.execute(s) }
                try c.execute("INSERT INTO scored_schema (version, summary) VALUES (?, ?)", [.integer(Int64(m.version)), .text(m.summary)])
            }
        }
    }
}
