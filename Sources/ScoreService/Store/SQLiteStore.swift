import Foundation
import ScoreEngine

/// The embedded store: SQLite for jobs, models and data sets (`store.db` in the data directory). The schema is
/// versioned by SQLite's `user_version`; opening a data directory runs the migrations it has not had, in order
/// and each in one transaction (`StoreMigrations`). A row that cannot be read back is a `CorruptRecord` naming it.
public final class SQLiteStore: RecordStore, @unchecked Sendable {
    let db: SQLiteDatabase

    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try StoreMigrations.run(on: db)
    }

    /// The schema version of the open database.
    public var schemaVersion: Int { get throws { try db.userVersion() } }

    // MARK: jobs

    static func json(_ v: JSONValue?) -> SQLiteDatabase.Value { v.map { .text($0.serialized) } ?? .null }
    static func opt(_ v: Double?) -> SQLiteDatabase.Value { v.map { .real($0) } ?? .null }
    static func opt(_ v: String?) -> SQLiteDatabase.Value { v.map { .text($0) } ?? .null }

    func jobRow(_ r: SQLiteDatabase.Row) throws -> JobRecord {
        let row = RowReader(table: "jobs", row: r)
        guard let kind = JobKind(rawValue: try row.text("kind")) else { throw row.corrupt("unknown kind \(try row.text("kind"))") }
        guard let status = JobStatus(rawValue: try row.text("status")) else { throw row.corrupt("unknown status \(try row.text("status"))") }
        var j = JobRecord(id: row.id, kind: kind, params: try row.json("params"), createdAt: try row.real("created_at"),
                          idempotencyKey: try row.optionalText("idempotency_key"))
        j.status = status
        j.startedAt = try row.optionalReal("started_at")
        j.finishedAt = try row.optionalReal("finished_at")
        j.progress = try row.optionalJSON("progress").map { p in
            guard let progress = JobProgress(p) else { throw row.corrupt("progress is not a progress object") }
            return progress
        }
        j.error = try row.optionalText("error")
        j.result = try row.optionalJSON("result")
        j.attempts = try row.int("attempts")
        j.owner = try row.optionalText("owner")
        return j
    }

    public func insert(_ job: JobRecord) throws -> (job: JobRecord, created: Bool) {
        try db.transaction {
            if let key = job.idempotencyKey,
               let existing = try db.queryUnlocked("SELECT * FROM jobs WHERE idempotency_key = ?", [.text(key)]).first {
                return (try jobRow(existing), false)
            }
            try db.executeUnlocked(
                "INSERT INTO jobs (id, kind, status, params, created_at, idempotency_key, attempts, owner) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                [.text(job.id), .text(job.kind.rawValue), .text(job.status.rawValue), .text(job.params.serialized),
                 .real(job.createdAt), SQLiteStore.opt(job.idempotencyKey), SQLiteStore.opt(job.owner)])
            return (job, true)
        }
    }

    public func job(_ id: String) throws -> JobRecord? {
        try db.query("SELECT * FROM jobs WHERE id = ?", [.text(id)]).first.map(jobRow)
    }

    public func job(idempotencyKey key: String) throws -> JobRecord? {
        try db.query("SELECT * FROM jobs WHERE idempotency_key = ?", [.text(key)]).first.map(jobRow)
    }

    /// The condition selecting an owner's rows (`.some(nil)`: rows without one).
    static func ownerCondition(_ owner: String??, _ conds: inout [String], _ params: inout [SQLiteDatabase.Value]) {
        guard let owner else { return }
        if let o = owner { conds.append("owner = ?"); params.append(.text(o)) } else { conds.append("owner IS NULL") }
    }

    public func jobs(status: JobStatus?, kind: JobKind?, limit: Int, owner: String??) throws -> [JobRecord] {
        var sql = "SELECT * FROM jobs", conds: [String] = [], params: [SQLiteDatabase.Value] = []
        if let status { conds.append("status = ?"); params.append(.text(status.rawValue)) }
        if let kind { conds.append("kind = ?"); params.append(.text(kind.rawValue)) }
        SQLiteStore.ownerCondition(owner, &conds, &params)
        if !conds.isEmpty { sql += " WHERE " + conds.joined(separator: " AND ") }
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        params.append(.integer(Int64(limit)))
        return try db.query(sql, params).map(jobRow)
    }

    public func update(_ job: JobRecord) throws {
        try db.execute("""
            UPDATE jobs SET status = ?, started_at = ?, finished_at = ?, progress = ?, error = ?, result = ?, attempts = ?
            WHERE id = ?
            """, [.text(job.status.rawValue), SQLiteStore.opt(job.startedAt), SQLiteStore.opt(job.finishedAt),
                  SQLiteStore.json(job.progress?.json), SQLiteStore.opt(job.error), SQLiteStore.json(job.result),
                  .integer(Int64(job.attempts)), .text(job.id)])
    }

    public func activeJobs(owner: String) throws -> Int {
        try db.query("SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND status IN ('queued', 'running')", [.text(owner)]).first?["n"]?.int ?? 0
    }

    public func deleteJob(_ id: String) throws { try db.execute("DELETE FROM jobs WHERE id = ?", [.text(id)]) }

    public func claimNext(kinds: [JobKind], now: Double) throws -> JobRecord? {
        try db.transaction {
            let marks = kinds.map { _ in "?" }.joined(separator: ",")
            guard let r = try db.queryUnlocked(
                "SELECT * FROM jobs WHERE status = 'queued' AND kind IN (\(marks)) ORDER BY created_at, id LIMIT 1",
                kinds.map { .text($0.rawValue) }).first else { return nil }
            var j = try jobRow(r)
            j.status = .running
            j.attempts += 1
            let started = j.startedAt ?? now
            j.startedAt = started
            try db.executeUnlocked("UPDATE jobs SET status = 'running', attempts = ?, started_at = ? WHERE id = ?",
                                   [.integer(Int64(j.attempts)), .real(started), .text(j.id)])
            return j
        }
    }

    public func requeueRunning() throws -> [JobRecord] {
        try db.transaction {
            let rows = try db.queryUnlocked("SELECT * FROM jobs WHERE status = 'running'").map(jobRow)
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
            guard let text = r["status"]?.string, let s = JobStatus(rawValue: text) else {
                throw CorruptRecord(table: "jobs", id: "(status \(r["status"]?.string ?? "?"))", reason: "unknown status")
            }
            out[s] = r["n"]?.int ?? 0
        }
        return out
    }

    public func expiredJobs(before: Double) throws -> [JobRecord] {
        try db.query("SELECT * FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled') AND finished_at < ?",
                     [.real(before)]).map(jobRow)
    }

    // MARK: models

    func modelRow(_ r: SQLiteDatabase.Row) throws -> ModelRecord {
        let row = RowReader(table: "models", row: r)
        return ModelRecord(id: row.id, jobId: try row.text("job_id"), createdAt: try row.real("created_at"), info: try row.json("info"),
                           owner: try row.optionalText("owner"))
    }

    public func insert(_ model: ModelRecord) throws {
        try db.execute("INSERT INTO models (id, job_id, created_at, info, owner) VALUES (?, ?, ?, ?, ?)",
                       [.text(model.id), .text(model.jobId), .real(model.createdAt), .text(model.info.serialized), SQLiteStore.opt(model.owner)])
    }

    public func model(_ id: String) throws -> ModelRecord? {
        try db.query("SELECT * FROM models WHERE id = ?", [.text(id)]).first.map(modelRow)
    }

    public func models(limit: Int, owner: String??) throws -> [ModelRecord] {
        var conds: [String] = [], params: [SQLiteDatabase.Value] = []
        SQLiteStore.ownerCondition(owner, &conds, &params)
        let filter = conds.isEmpty ? "" : " WHERE " + conds.joined(separator: " AND ")
        return try db.query("SELECT * FROM models\(filter) ORDER BY created_at DESC, id LIMIT ?", params + [.integer(Int64(limit))]).map(modelRow)
    }

    public func deleteModel(_ id: String) throws { try db.execute("DELETE FROM models WHERE id = ?", [.text(id)]) }

    public func expiredModels(before: Double) throws -> [ModelRecord] {
        try db.query("SELECT * FROM models WHERE created_at < ?", [.real(before)]).map(modelRow)
    }

    // MARK: data sets

    func datasetRow(_ r: SQLiteDatabase.Row) throws -> DatasetRecord {
        let row = RowReader(table: "datasets", row: r)
        guard let kind = DataKind(rawValue: try row.text("kind")) else { throw row.corrupt("unknown kind \(try row.text("kind"))") }
        let items = try row.json("shape").array ?? []
        let shape = items.compactMap { $0.number }.filter { $0 >= 1 && $0 <= 1e6 && $0 == $0.rounded() }.map { Int($0) }
        guard !shape.isEmpty, shape.count == items.count else { throw row.corrupt("shape is not a list of positive integers") }
        var classes: Int? = nil
        if let v = r["classes"], v != .null { classes = try row.int("classes") }
        return DatasetRecord(id: row.id, name: try row.text("name"), kind: kind, count: try row.int("count"), shape: shape,
                             createdAt: try row.real("created_at"), classes: classes, owner: try row.optionalText("owner"),
                             bytes: try row.int("bytes"))
    }

    public func insert(_ d: DatasetRecord) throws {
        try db.execute("INSERT INTO datasets (id, name, kind, count, shape, created_at, classes, owner, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [.text(d.id), .text(d.name), .text(d.kind.rawValue), .integer(Int64(d.count)),
                        .text(JSONValue.array(d.shape.map { .number(Double($0)) }).serialized), .real(d.createdAt),
                        d.classes.map { .integer(Int64($0)) } ?? .null, SQLiteStore.opt(d.owner), .integer(Int64(d.bytes))])
    }

    public func setClasses(_ classes: Int?, dataset id: String) throws {
        try db.execute("UPDATE datasets SET classes = ? WHERE id = ?", [classes.map { .integer(Int64($0)) } ?? .null, .text(id)])
    }

    public func dataset(_ id: String) throws -> DatasetRecord? {
        try db.query("SELECT * FROM datasets WHERE id = ?", [.text(id)]).first.map(datasetRow)
    }

    public func datasets(owner: String??) throws -> [DatasetRecord] {
        var conds: [String] = [], params: [SQLiteDatabase.Value] = []
        SQLiteStore.ownerCondition(owner, &conds, &params)
        let filter = conds.isEmpty ? "" : " WHERE " + conds.joined(separator: " AND ")
        return try db.query("SELECT * FROM datasets\(filter) ORDER BY created_at DESC, id", params).map(datasetRow)
    }

    public func deleteDataset(_ id: String) throws { try db.execute("DELETE FROM datasets WHERE id = ?", [.text(id)]) }

    public func uploadBytes(owner: String) throws -> Int {
        try db.query("SELECT COALESCE(SUM(bytes), 0) AS n FROM datasets WHERE owner = ?", [.text(owner)]).first?["n"]?.int ?? 0
    }

    // MARK: API keys

    func keyRow(_ r: SQLiteDatabase.Row) throws -> APIKeyRecord {
        let row = RowReader(table: "api_keys", row: r)
        guard let scope = Scope(rawValue: try row.text("scope")) else { throw row.corrupt("unknown scope \(try row.text("scope"))") }
        let hex = try row.text("secret_hash")
        guard hex.count == 64, let hash = APIKeyRecord.bytes(hex: hex) else { throw row.corrupt("secret_hash is not a SHA-256 in hex") }
        func limit(_ c: String) throws -> Int? { if let v = r[c], v != .null { return try row.int(c) }; return nil }
        return APIKeyRecord(id: row.id, name: try row.text("name"), scope: scope, secretHash: hash, createdAt: try row.real("created_at"),
                            revokedAt: try row.optionalReal("revoked_at"),
                            limits: KeyLimits(maxJobs: try limit("max_jobs"), maxUploadBytes: try limit("max_upload_bytes"),
                                              maxSamples: try limit("max_samples")),
                            actsFor: try row.optionalText("acts_for"))
    }

    public func insert(_ k: APIKeyRecord) throws {
        func opt(_ v: Int?) -> SQLiteDatabase.Value { v.map { .integer(Int64($0)) } ?? .null }
        try db.execute("""
            INSERT INTO api_keys (id, name, scope, secret_hash, created_at, revoked_at, max_jobs, max_upload_bytes, max_samples, acts_for)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(k.id), .text(k.name), .text(k.scope.rawValue), .text(APIKeyRecord.hex(k.secretHash)), .real(k.createdAt),
                  SQLiteStore.opt(k.revokedAt), opt(k.limits.maxJobs), opt(k.limits.maxUploadBytes), opt(k.limits.maxSamples),
                  SQLiteStore.opt(k.actsFor)])
    }

    public func key(_ id: String) throws -> APIKeyRecord? {
        try db.query("SELECT * FROM api_keys WHERE id = ?", [.text(id)]).first.map(keyRow)
    }

    public func keys() throws -> [APIKeyRecord] {
        try db.query("SELECT * FROM api_keys ORDER BY created_at, id").map(keyRow)
    }

    public func revokeKey(_ id: String, at: Double) throws -> Bool {
        try db.transaction {
            guard try db.queryUnlocked("SELECT id FROM api_keys WHERE id = ? AND revoked_at IS NULL", [.text(id)]).first != nil else { return false }
            try db.executeUnlocked("UPDATE api_keys SET revoked_at = ? WHERE id = ?", [.real(at), .text(id)])
            return true
        }
    }

    public func hasKeys() throws -> Bool {
        try db.query("SELECT EXISTS(SELECT 1 FROM api_keys) AS k").first?["k"]?.int == 1
    }
}

/// Typed reads of one row, each failure a `CorruptRecord` naming the table, the row and the column.
struct RowReader {
    let table: String
    let row: SQLiteDatabase.Row

    var id: String { row["id"]?.string ?? "?" }

    func corrupt(_ reason: String) -> CorruptRecord { CorruptRecord(table: table, id: id, reason: reason) }

    func text(_ column: String) throws -> String {
        guard let s = row[column]?.string else { throw corrupt("\(column) is not text") }
        return s
    }
    func optionalText(_ column: String) throws -> String? {
        guard let v = row[column], v != .null else { return nil }
        return try text(column)
    }
    func real(_ column: String) throws -> Double {
        guard let x = row[column]?.double, x.isFinite else { throw corrupt("\(column) is not a number") }
        return x
    }
    func optionalReal(_ column: String) throws -> Double? {
        guard let v = row[column], v != .null else { return nil }
        return try real(column)
    }
    func int(_ column: String) throws -> Int {
        guard case .integer(let i)? = row[column] else { throw corrupt("\(column) is not an integer") }
        return Int(i)
    }
    func json(_ column: String) throws -> JSONValue {
        do { return try JSONValue(parsing: try text(column)) } catch let e as JSONValue.ParseError {
            throw corrupt("\(column) is not JSON (\(e))")
        }
    }
    func optionalJSON(_ column: String) throws -> JSONValue? {
        guard let v = row[column], v != .null else { return nil }
        return try json(column)
    }
}
