import Foundation
import ScoreEngine

/// The records on a SQL database, written once for both: SQLite (`SQLiteStore`, the embedded default) and
/// PostgreSQL (`PostgresStore`, shared by several hosts). Statements use `?` placeholders and the columns both
/// have; what differs (the clock, the queue's order, skipping rows other claimers hold) is the dialect's.
/// A row that cannot be read back is a `CorruptRecord` naming it.
public class SQLRecordStore: @unchecked Sendable {
    let db: any SQLDatabase
    var dialect: SQLDialect { db.dialect }

    init(db: any SQLDatabase) { self.db = db }

    // MARK: jobs

    static func json(_ v: JSONValue?) -> SQLValue { v.map { .text($0.serialized) } ?? .null }
    static func opt(_ v: Double?) -> SQLValue { v.map { .real($0) } ?? .null }
    static func opt(_ v: String?) -> SQLValue { v.map { .text($0) } ?? .null }

    func jobRow(_ r: SQLRow) throws -> JobRecord {
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
        j.node = try row.optionalText("node")
        j.lost = try row.int("lost")
        j.cancelRequested = try row.int("cancel_requested") != 0
        return j
    }

    public func insert(_ job: JobRecord, queueCap: Int?, ownerLimit: Int?) throws -> (job: JobRecord, created: Bool) {
        do { return try insertOnce(job, queueCap: queueCap, ownerLimit: ownerLimit) } catch let e as PostgresDatabase.Error where e.sqlState == "23505" {
            // The same idempotency key sent to another lane on another node at the same moment: the first one made it.
            guard let key = job.idempotencyKey, let existing = try self.job(idempotencyKey: key) else { throw e }
            return (existing, false)
        }
    }

    private func insertOnce(_ job: JobRecord, queueCap: Int?, ownerLimit: Int?) throws -> (job: JobRecord, created: Bool) {
        try db.inTransaction { c in
            // Submissions to a lane, and of a key, are serialised, so that the caps hold across hosts (SQLite's
            // write transactions are serial already).
            if dialect == .postgres {
                try c.execute("SELECT pg_advisory_xact_lock(?)", [.integer(SQLRecordStore.laneLock(job.kind.lane))])
                if let owner = job.owner, ownerLimit != nil { try c.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [.text("owner " + owner)]) }
            }
            if let key = job.idempotencyKey,
               let existing = try c.query("SELECT * FROM jobs WHERE idempotency_key = ?", [.text(key)]).first {
                return (try jobRow(existing), false)
            }
            if let owner = job.owner, let ownerLimit {
                let active = try c.query("SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND status IN ('queued', 'running')",
                                         [.text(owner)]).first?["n"]?.int ?? 0
                if active >= ownerLimit { throw OwnerLimitReached(limit: ownerLimit) }
            }
            if let queueCap {
                let kinds = JobKind.allCases.filter { $0.lane == job.kind.lane }
                let marks = kinds.map { _ in "?" }.joined(separator: ",")
                let queued = try c.query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued' AND kind IN (\(marks))",
                                         kinds.map { .text($0.rawValue) }).first?["n"]?.int ?? 0
                if queued >= queueCap { throw QueueFull(lane: job.kind.lane) }
            }
            try c.execute(
                "INSERT INTO jobs (id, kind, status, params, created_at, idempotency_key, attempts, owner, node) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [.text(job.id), .text(job.kind.rawValue), .text(job.status.rawValue), .text(job.params.serialized),
                 .real(job.createdAt), SQLRecordStore.opt(job.idempotencyKey), SQLRecordStore.opt(job.owner), SQLRecordStore.opt(job.node)])
            return (job, true)
        }
    }

    /// The advisory lock serialising a lane's submissions (PostgreSQL).
    static func laneLock(_ lane: Lane) -> Int64 { lane == .train ? 0x5C0_7E0_01 : 0x5C0_7E0_02 }

    public func job(_ id: String) throws -> JobRecord? {
        try db.query("SELECT * FROM jobs WHERE id = ?", [.text(id)]).first.map(jobRow)
    }

    public func job(idempotencyKey key: String) throws -> JobRecord? {
        try db.query("SELECT * FROM jobs WHERE idempotency_key = ?", [.text(key)]).first.map(jobRow)
    }

    /// The condition selecting an owner's rows (`.some(nil)`: rows without one).
    static func ownerCondition(_ owner: String??, _ conds: inout [String], _ params: inout [SQLValue]) {
        guard let owner else { return }
        if let o = owner { conds.append("owner = ?"); params.append(.text(o)) } else { conds.append("owner IS NULL") }
    }

    public func jobs(status: JobStatus?, kind: JobKind?, limit: Int, owner: String??) throws -> [JobRecord] {
        var sql = "SELECT * FROM jobs", conds: [String] = [], params: [SQLValue] = []
        if let status { conds.append("status = ?"); params.append(.text(status.rawValue)) }
        if let kind { conds.append("kind = ?"); params.append(.text(kind.rawValue)) }
        SQLRecordStore.ownerCondition(owner, &conds, &params)
        if !conds.isEmpty { sql += " WHERE " + conds.joined(separator: " AND ") }
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        params.append(.integer(Int64(limit)))
        return try db.query(sql, params).map(jobRow)
    }

    public func update(_ job: JobRecord, fence: Fence?, model: ModelRecord?) throws -> Bool {
        guard let model else { return try updateJob(job, fence: fence, on: nil) }
        return try db.inTransaction { c in
            guard try updateJob(job, fence: fence, on: c) else { return false }
            try insertModel(model, on: c)
            return true
        }
    }

    private func updateJob(_ job: JobRecord, fence: Fence?, on c: (any SQLConnection)?) throws -> Bool {
        // A job leaving `running` gives up its lease.
        let release = job.status == .running ? "" : ", worker = NULL, lease_until = NULL"
        var sql = """
            UPDATE jobs SET status = ?, started_at = ?, finished_at = ?, progress = ?, error = ?, result = ?, attempts = ?\(release) \
            WHERE id = ?
            """
        var params: [SQLValue] = [.text(job.status.rawValue), SQLRecordStore.opt(job.startedAt), SQLRecordStore.opt(job.finishedAt),
                                  SQLRecordStore.json(job.progress?.json), SQLRecordStore.opt(job.error), SQLRecordStore.json(job.result),
                                  .integer(Int64(job.attempts)), .text(job.id)]
        if let fence {
            sql += " AND attempts = ? AND status = 'running'"
            params.append(.integer(Int64(fence.attempt)))
        }
        return try !(c?.query(sql + " RETURNING id", params) ?? db.query(sql + " RETURNING id", params)).isEmpty
    }

    public func activeJobs(owner: String) throws -> Int {
        try db.query("SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND status IN ('queued', 'running')", [.text(owner)]).first?["n"]?.int ?? 0
    }

    public func deleteJob(_ id: String) throws {
        try db.execute("DELETE FROM job_previews WHERE job_id = ?", [.text(id)])
        try db.execute("DELETE FROM jobs WHERE id = ?", [.text(id)])
    }

    public func claimNext(kinds: [JobKind], now: Double, worker: String, leaseSeconds: Double) throws -> JobRecord? {
        let marks = kinds.map { _ in "?" }.joined(separator: ",")
        // One statement: the oldest queued job of these kinds (that is not pinned to another node), passing over
        // rows another claimer holds, marked running under a lease with its attempt counted.
        let rows = try db.query("""
            UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, ?), worker = ?,
              lease_until = \(dialect.clock) + ?
            WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND kind IN (\(marks)) AND (node IS NULL OR node = ?)
                        ORDER BY \(dialect.queueOrder) LIMIT 1\(dialect.skipLocked))
            RETURNING *
            """, [.real(now), .text(worker), .real(leaseSeconds)] + kinds.map { .text($0.rawValue) } + [.text(SQLRecordStore.node(of: worker))])
        return try rows.first.map(jobRow)
    }

    /// The node part of a worker's name (`node/lane/k`).
    static func node(of worker: String) -> String { String(worker.split(separator: "/").first ?? Substring(worker)) }

    public func heartbeat(_ fence: Fence, leaseSeconds: Double) throws -> Heartbeat {
        let rows = try db.query("""
            UPDATE jobs SET lease_until = \(dialect.clock) + ? WHERE id = ? AND attempts = ? AND status = 'running'
            RETURNING cancel_requested
            """, [.real(leaseSeconds), .text(fence.job), .integer(Int64(fence.attempt))])
        guard let r = rows.first else { return .lost }
        return .held(cancelRequested: (r["cancel_requested"]?.int ?? 0) != 0)
    }

    public func cancelQueued(_ id: String, at: Double) throws -> Bool {
        try !db.query("UPDATE jobs SET status = 'canceled', finished_at = ? WHERE id = ? AND status = 'queued' RETURNING id",
                      [.real(at), .text(id)]).isEmpty
    }

    public func setProgress(_ fence: Fence, _ progress: JobProgress) throws -> Bool {
        try !db.query("UPDATE jobs SET progress = ? WHERE id = ? AND attempts = ? AND status = 'running' RETURNING id",
                      [.text(progress.json.serialized), .text(fence.job), .integer(Int64(fence.attempt))]).isEmpty
    }

    public func requestCancel(_ id: String) throws -> Bool {
        try !db.query("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running' RETURNING id", [.text(id)]).isEmpty
    }

    public func requeueRunning(maxAttempts: Int) throws -> [JobRecord] { try rescue(onlyLapsed: false, maxAttempts: maxAttempts) }

    public func rescueLapsed(maxAttempts: Int) throws -> [JobRecord] { try rescue(onlyLapsed: true, maxAttempts: maxAttempts) }

    /// Running jobs (those whose lease lapsed, or all) back to the queue (their `lost` count raised), or failed
    /// once it reaches `maxAttempts`, or canceled if that was asked; each row taken under a lock, so that two
    /// rescuers do not both act on it. On PostgreSQL also the jobs pinned to a node that has no session left
    /// (its stream is gone with it): failed.
    private func rescue(onlyLapsed: Bool, maxAttempts: Int) throws -> [JobRecord] {
        try db.inTransaction { c in
            let lapsed = onlyLapsed ? " AND lease_until < \(dialect.clock)" : ""
            var rows = try c.query("SELECT * FROM jobs WHERE status = 'running'\(lapsed) ORDER BY \(dialect.queueOrder)\(dialect.skipLocked)", [])
            if dialect == .postgres && onlyLapsed {
                rows += try c.query("""
                    SELECT * FROM jobs WHERE status = 'queued' AND node IS NOT NULL AND created_at < ? AND 'scored ' || node NOT IN
                      (SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'scored %')
                    ORDER BY \(dialect.queueOrder)\(dialect.skipLocked)
                    """, [.real(Date().timeIntervalSince1970 - 30)])
            }
            var out: [JobRecord] = []
            let now = Date().timeIntervalSince1970
            for r in rows {
                var j = try jobRow(r)
                let wasRunning = j.status == .running
                if wasRunning { j.lost += 1 }
                if j.cancelRequested {
                    j.status = .canceled
                    j.finishedAt = now
                } else if j.node != nil {
                    j.status = .failed
                    j.error = "the node that took the request (\(j.node!)) stopped; streamed samples are made by the node that streams them"
                    j.finishedAt = now
                } else if j.lost >= maxAttempts {
                    j.status = .failed
                    j.error = "its worker was lost \(j.lost) times (the host stopped or lost the database before its lease ran out); "
                        + "a job gets \(maxAttempts) (max_attempts)"
                    j.finishedAt = now
                } else {
                    j.status = .queued
                }
                try c.execute("""
                    UPDATE jobs SET status = ?, error = ?, finished_at = ?, lost = ?, worker = NULL, lease_until = NULL WHERE id = ? AND attempts = ?
                    """, [.text(j.status.rawValue), SQLRecordStore.opt(j.error), SQLRecordStore.opt(j.finishedAt), .integer(Int64(j.lost)),
                          .text(j.id), .integer(Int64(j.attempts))])
                out.append(j)
            }
            return out
        }
    }

    public func setPreview(_ fence: Fence, number: Int, body: JSONValue) throws {
        let conflict = "ON CONFLICT (job_id) DO UPDATE SET number = excluded.number, body = excluded.body"
        try db.execute("""
            INSERT INTO job_previews (job_id, number, body) SELECT ?, ?, ? WHERE EXISTS
              (SELECT 1 FROM jobs WHERE id = ? AND attempts = ? AND status = 'running') \(conflict)
            """, [.text(fence.job), .integer(Int64(number)), .text(body.serialized), .text(fence.job), .integer(Int64(fence.attempt))])
    }

    public func preview(_ id: String) throws -> (number: Int, body: JSONValue)? {
        guard let r = try db.query("SELECT number, body FROM job_previews WHERE job_id = ?", [.text(id)]).first else { return nil }
        let row = RowReader(table: "job_previews", row: r)
        return (try row.int("number"), try row.json("body"))
    }

    public func count(status: JobStatus, kinds: [JobKind]) throws -> Int {
        let marks = kinds.map { _ in "?" }.joined(separator: ",")
        return try db.query("SELECT COUNT(*) AS n FROM jobs WHERE status = ? AND kind IN (\(marks))",
                            [.text(status.rawValue)] + kinds.map { .text($0.rawValue) }).first?["n"]?.int ?? 0
    }

    public func countsByStatus() throws -> [JobStatus: Int] {
        var out: [JobStatus: Int] = [:]
        for r in try db.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status", []) {
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

    func modelRow(_ r: SQLRow) throws -> ModelRecord {
        let row = RowReader(table: "models", row: r)
        return ModelRecord(id: row.id, jobId: try row.text("job_id"), createdAt: try row.real("created_at"), info: try row.json("info"),
                           owner: try row.optionalText("owner"))
    }

    public func insert(_ model: ModelRecord) throws { try db.inTransaction { try insertModel(model, on: $0) } }

    private func insertModel(_ model: ModelRecord, on c: any SQLConnection) throws {
        try c.execute("INSERT INTO models (id, job_id, created_at, info, owner) VALUES (?, ?, ?, ?, ?)",
                      [.text(model.id), .text(model.jobId), .real(model.createdAt), .text(model.info.serialized), SQLRecordStore.opt(model.owner)])
    }

    public func model(_ id: String) throws -> ModelRecord? {
        try db.query("SELECT * FROM models WHERE id = ?", [.text(id)]).first.map(modelRow)
    }

    public func models(limit: Int, owner: String??) throws -> [ModelRecord] {
        var conds: [String] = [], params: [SQLValue] = []
        SQLRecordStore.ownerCondition(owner, &conds, &params)
        let filter = conds.isEmpty ? "" : " WHERE " + conds.joined(separator: " AND ")
        return try db.query("SELECT * FROM models\(filter) ORDER BY created_at DESC, id LIMIT ?", params + [.integer(Int64(limit))]).map(modelRow)
    }

    public func deleteModel(_ id: String) throws { try db.execute("DELETE FROM models WHERE id = ?", [.text(id)]) }

    public func expiredModels(before: Double) throws -> [ModelRecord] {
        try db.query("SELECT * FROM models WHERE created_at < ?", [.real(before)]).map(modelRow)
    }

    // MARK: data sets

    func datasetRow(_ r: SQLRow) throws -> DatasetRecord {
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

    public func insert(_ d: DatasetRecord, uploadLimit: Int?) throws {
        try db.inTransaction { c in
            if let owner = d.owner, let uploadLimit {
                // A key's uploads are serialised across nodes (SQLite's write transactions are serial already).
                if dialect == .postgres { try c.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [.text("uploads " + owner)]) }
                let used = try c.query("SELECT COALESCE(SUM(bytes), 0) AS n FROM datasets WHERE owner = ?", [.text(owner)]).first?["n"]?.int ?? 0
                if used + d.bytes > uploadLimit { throw UploadLimitReached(used: used, limit: uploadLimit) }
            }
            try c.execute("INSERT INTO datasets (id, name, kind, count, shape, created_at, classes, owner, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [.text(d.id), .text(d.name), .text(d.kind.rawValue), .integer(Int64(d.count)),
                           .text(JSONValue.array(d.shape.map { .number(Double($0)) }).serialized), .real(d.createdAt),
                           d.classes.map { .integer(Int64($0)) } ?? .null, SQLRecordStore.opt(d.owner), .integer(Int64(d.bytes))])
        }
    }

    public func setClasses(_ classes: Int?, dataset id: String) throws {
        try db.execute("UPDATE datasets SET classes = ? WHERE id = ?", [classes.map { .integer(Int64($0)) } ?? .null, .text(id)])
    }

    public func dataset(_ id: String) throws -> DatasetRecord? {
        try db.query("SELECT * FROM datasets WHERE id = ?", [.text(id)]).first.map(datasetRow)
    }

    public func datasets(owner: String??) throws -> [DatasetRecord] {
        var conds: [String] = [], params: [SQLValue] = []
        SQLRecordStore.ownerCondition(owner, &conds, &params)
        let filter = conds.isEmpty ? "" : " WHERE " + conds.joined(separator: " AND ")
        return try db.query("SELECT * FROM datasets\(filter) ORDER BY created_at DESC, id", params).map(datasetRow)
    }

    public func deleteDataset(_ id: String) throws { try db.execute("DELETE FROM datasets WHERE id = ?", [.text(id)]) }

    public func uploadBytes(owner: String) throws -> Int {
        try db.query("SELECT COALESCE(SUM(bytes), 0) AS n FROM datasets WHERE owner = ?", [.text(owner)]).first?["n"]?.int ?? 0
    }

    // MARK: API keys

    func keyRow(_ r: SQLRow) throws -> APIKeyRecord {
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
        func opt(_ v: Int?) -> SQLValue { v.map { .integer(Int64($0)) } ?? .null }
        try db.execute("""
            INSERT INTO api_keys (id, name, scope, secret_hash, created_at, revoked_at, max_jobs, max_upload_bytes, max_samples, acts_for)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(k.id), .text(k.name), .text(k.scope.rawValue), .text(APIKeyRecord.hex(k.secretHash)), .real(k.createdAt),
                  SQLRecordStore.opt(k.revokedAt), opt(k.limits.maxJobs), opt(k.limits.maxUploadBytes), opt(k.limits.maxSamples),
                  SQLRecordStore.opt(k.actsFor)])
    }

    public func key(_ id: String) throws -> APIKeyRecord? {
        try db.query("SELECT * FROM api_keys WHERE id = ?", [.text(id)]).first.map(keyRow)
    }

    public func keys() throws -> [APIKeyRecord] {
        try db.query("SELECT * FROM api_keys ORDER BY created_at, id", []).map(keyRow)
    }

    public func revokeKey(_ id: String, at: Double) throws -> Bool {
        try db.inTransaction { c in
            guard try c.query("SELECT id FROM api_keys WHERE id = ? AND revoked_at IS NULL", [.text(id)]).first != nil else { return false }
            try c.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", [.real(at), .text(id)])
            return true
        }
    }

    public func hasKeys() throws -> Bool {
        try db.query("SELECT EXISTS(SELECT 1 FROM api_keys) AS k", []).first?["k"]?.int == 1
    }
}

/// Typed reads of one row, each failure a `CorruptRecord` naming the table, the row and the column.
struct RowReader {
    let table: String
    let row: SQLRow

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
