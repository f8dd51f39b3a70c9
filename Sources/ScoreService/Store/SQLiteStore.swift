import Foundation
import ScoreEngine

/// The embedded store: SQLite for jobs, models and data sets (`store.db` in the data directory).
public final class SQLiteStore: JobStore, @unchecked Sendable {
    let db: SQLiteDatabase

    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("""
            CREATE TABLE IF NOT EXISTS jobs (
              id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
              created_at REAL NOT NULL, started_at REAL, finished_at REAL, progress TEXT, error TEXT, result TEXT,
              idempotency_key TEXT UNIQUE, attempts INTEGER NOT NULL DEFAULT 0)
            """)
        try db.execute("CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(status, created_at)")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, job_id TEXT NOT NULL, created_at REAL NOT NULL, info TEXT NOT NULL)
            """)
        try db.execute("""
            CREATE TABLE IF NOT EXISTS datasets (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
              count INTEGER NOT NULL, shape TEXT NOT NULL, created_at REAL NOT NULL)
            """)
    }

    // MARK: jobs

    static func json(_ v: JSONValue?) -> SQLiteDatabase.Value { v.map { .text($0.serialized) } ?? .null }
    static func opt(_ v: Double?) -> SQLiteDatabase.Value { v.map { .real($0) } ?? .null }
    static func opt(_ v: String?) -> SQLiteDatabase.Value { v.map { .text($0) } ?? .null }

    static func parse(_ v: SQLiteDatabase.Value?) -> JSONValue? {
        guard let s = v?.string else { return nil }
        return try? JSONValue(parsing: s)
    }

    func row(_ r: [String: SQLiteDatabase.Value]) -> JobRecord {
        var j = JobRecord(id: r["id"]!.string!, kind: JobKind(rawValue: r["kind"]!.string!) ?? .train,
                          params: SQLiteStore.parse(r["params"]) ?? .object([:]), createdAt: r["created_at"]!.double!,
                          idempotencyKey: r["idempotency_key"]?.string)
        j.status = JobStatus(rawValue: r["status"]!.string!) ?? .failed
        j.startedAt = r["started_at"]?.double
        j.finishedAt = r["finished_at"]?.double
        j.progress = JobProgress(SQLiteStore.parse(r["progress"]))
        j.error = r["error"]?.string
        j.result = SQLiteStore.parse(r["result"])
        j.attempts = r["attempts"]?.int ?? 0
        return j
    }

    public func insert(_ job: JobRecord) throws -> (job: JobRecord, created: Bool) {
        try db.transaction {
            if let key = job.idempotencyKey,
               let existing = try db.queryUnlocked("SELECT * FROM jobs WHERE idempotency_key = ?", [.text(key)]).first {
                return (row(existing), false)
            }
            try db.executeUnlocked(
                "INSERT INTO jobs (id, kind, status, params, created_at, idempotency_key, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)",
                [.text(job.id), .text(job.kind.rawValue), .text(job.status.rawValue), .text(job.params.serialized),
                 .real(job.createdAt), SQLiteStore.opt(job.idempotencyKey)])
            return (job, true)
        }
    }

    public func job(_ id: String) throws -> JobRecord? {
        try db.query("SELECT * FROM jobs WHERE id = ?", [.text(id)]).first.map(row)
    }

    public func job(idempotencyKey key: String) throws -> JobRecord? {
        try db.query("SELECT * FROM jobs WHERE idempotency_key = ?", [.text(key)]).first.map(row)
    }

    public func jobs(status: JobStatus?, kind: JobKind?, limit: Int) throws -> [JobRecord] {
        var sql = "SELECT * FROM jobs", conds: [String] = [], params: [SQLiteDatabase.Value] = []
        if let status { conds.append("status = ?"); params.append(.text(status.rawValue)) }
        if let kind { conds.append("kind = ?"); params.append(.text(kind.rawValue)) }
        if !conds.isEmpty { sql += " WHERE " + conds.joined(separator: " AND ") }
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        params.append(.integer(Int64(limit)))
        return try db.query(sql, params).map(row)
    }

    public func update(_ job: JobRecord) throws {
        try db.execute("""
            UPDATE jobs SET status = ?, started_at = ?, finished_at = ?, progress = ?, error = ?, result = ?, attempts = ?
            WHERE id = ?
            """, [.text(job.status.rawValue), SQLiteStore.opt(job.startedAt), SQLiteStore.opt(job.finishedAt),
                  SQLiteStore.json(job.progress?.json), SQLiteStore.opt(job.error), SQLiteStore.json(job.result),
                  .integer(Int64(job.attempts)), .text(job.id)])
    }

    public func deleteJob(_ id: String) throws { try db.execute("DELETE FROM jobs WHERE id = ?", [.text(id)]) }

    public func claimNext(kinds: [JobKind], now: Double) throws -> JobRecord? {
        try db.transaction {
            let marks = kinds.map { _ in "?" }.joined(separator: ",")
            guard let r = try db.queryUnlocked(
                "SELECT * FROM jobs WHERE status = 'queued' AND kind IN (\(marks)) ORDER BY created_at, id LIMIT 1",
                kinds.map { .text($0.rawValue) }).first else { return nil }
            var j = row(r)
            j.status = .running
            j.attempts += 1
            if j.startedAt == nil { j.startedAt = now }
            try db.executeUnlocked("UPDATE jobs SET status = 'running', attempts = ?, started_at = ? WHERE id = ?",
                                   [.integer(Int64(j.attempts)), .real(j.startedAt!), .text(j.id)])
            return j
        }
    }

    public func requeueRunning() throws -> [JobRecord] {
        try db.transaction {
            let rows = try db.queryUnlocked("SELECT * FROM jobs WHERE status = 'running'").map(row)
            try db.executeUnlocked("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
            return rows
        }
    }

    public func count(status: JobStatus, kinds: [JobKind]) throws -> Int {
        let marks = kinds.map { _ in "?" }.joined(separator: ",")
        return try db.query("SELECT COUNT(*) AS n FROM jobs WHERE status = ? AND kind IN (\(marks))",
                            [.text(status.rawValue)] + kinds.map { .text($0.rawValue) }).first?["n"]?.int ?? 0
    }

    public func countsByStatus() throws -> [JobStatus: Int] {
        var out: [JobStatus: Int] = [:]
        for r in try db.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status") {
            if let s = r["status"]?.string.flatMap(JobStatus.init(rawValue:)) { out[s] = r["n"]?.int ?? 0 }
        }
        return out
    }

    public func expiredJobs(before: Double) throws -> [JobRecord] {
        try db.query("SELECT * FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled') AND finished_at < ?",
                     [.real(before)]).map(row)
    }

    // MARK: models

    func modelRow(_ r: [String: SQLiteDatabase.Value]) -> ModelRecord {
        ModelRecord(id: r["id"]!.string!, jobId: r["job_id"]!.string!, createdAt: r["created_at"]!.double!,
                    info: SQLiteStore.parse(r["info"]) ?? .object([:]))
    }

    public func insert(_ model: ModelRecord) throws {
        try db.execute("INSERT INTO models (id, job_id, created_at, info) VALUES (?, ?, ?, ?)",
                       [.text(model.id), .text(model.jobId), .real(model.createdAt), .text(model.info.serialized)])
    }

    public func model(_ id: String) throws -> ModelRecord? {
        try db.query("SELECT * FROM models WHERE id = ?", [.text(id)]).first.map(modelRow)
    }

    public func models(limit: Int) throws -> [ModelRecord] {
        try db.query("SELECT * FROM models ORDER BY created_at DESC, id LIMIT ?", [.integer(Int64(limit))]).map(modelRow)
    }

    public func deleteModel(_ id: String) throws { try db.execute("DELETE FROM models WHERE id = ?", [.text(id)]) }

    public func expiredModels(before: Double) throws -> [ModelRecord] {
        try db.query("SELECT * FROM models WHERE created_at < ?", [.real(before)]).map(modelRow)
    }

    // MARK: data sets

    func datasetRow(_ r: [String: SQLiteDatabase.Value]) -> DatasetRecord {
        let shape = (SQLiteStore.parse(r["shape"]).flatMap { v -> [Int]? in
            if case .array(let a) = v { return a.compactMap { if case .number(let x) = $0 { return Int(x) }; return nil } }
            return nil
        }) ?? []
        return DatasetRecord(id: r["id"]!.string!, name: r["name"]!.string!, kind: r["kind"]!.string!,
                             count: r["count"]!.int!, shape: shape, createdAt: r["created_at"]!.double!)
    }

    public func insert(_ d: DatasetRecord) throws {
        try db.execute("INSERT INTO datasets (id, name, kind, count, shape, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [.text(d.id), .text(d.name), .text(d.kind), .integer(Int64(d.count)),
                        .text(JSONValue.array(d.shape.map { .number(Double($0)) }).serialized), .real(d.createdAt)])
    }

    public func dataset(_ id: String) throws -> DatasetRecord? {
        try db.query("SELECT * FROM datasets WHERE id = ?", [.text(id)]).first.map(datasetRow)
    }

    public func datasets() throws -> [DatasetRecord] {
        try db.query("SELECT * FROM datasets ORDER BY created_at DESC, id").map(datasetRow)
    }

    public func deleteDataset(_ id: String) throws { try db.execute("DELETE FROM datasets WHERE id = ?", [.text(id)]) }
}
