import CSQLite
import Foundation

/// A minimal SQLite connection: prepared statements with positional parameters, rows as dictionaries.
/// One connection, used under a lock by its owner.
final class SQLiteDatabase: SQLDatabase, @unchecked Sendable {
    var dialect: SQLDialect { .sqlite }

    typealias Value = SQLValue

    typealias Row = [String: Value]

    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// SQLite's `user_version`: the schema version the migrations have reached.
    func userVersion() throws -> Int { try query("PRAGMA user_version").first?["user_version"]?.int ?? 0 }

    private var db: OpaquePointer?
    private let lock = NSLock()

    init(path: String) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw Error(description: "\(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
        // WAL for concurrent readers; FULL so that a commit is on disk when it returns.
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { sqlite3_close(db) }

    /// Runs `body` with the connection locked (a transaction or a group of statements).
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        try locked {
            try executeUnlocked("BEGIN IMMEDIATE")
            do {
                let r = try body()
                try executeUnlocked("COMMIT")
                return r
            } catch {
                try? executeUnlocked("ROLLBACK")
                throw error
            }
        }
    }

    /// `SQLDatabase`: a transaction whose statements run on this (locked) connection.
    func inTransaction<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction { try body(Unlocked(db: self)) }
    }

    private struct Unlocked: SQLConnection {
        let db: SQLiteDatabase
        func query(_ sql: String, _ params: [SQLValue]) throws -> [SQLRow] { try db.queryUnlocked(sql, params) }
    }

    func execute(_ sql: String, _ params: [Value] = []) throws {
        try locked { try executeUnlocked(sql, params) }
    }

    func query(_ sql: String, _ params: [Value]) throws -> [[String: Value]] {
        try locked { try queryUnlocked(sql, params) }
    }

    func query(_ sql: String) throws -> [[String: Value]] {
        try locked { try queryUnlocked(sql, []) }
    }

    /// Statement execution for use inside `locked`/`transaction`.
    func executeUnlocked(_ sql: String, _ params: [Value] = []) throws {
        _ = try queryUnlocked(sql, params)
    }

    func queryUnlocked(_ sql: String, _ params: [Value] = []) throws -> [[String: Value]] {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { throw lastError(sql) }
        defer { sqlite3_finalize(stmt) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, p) in params.enumerated() {
            let k = Int32(i + 1)
            switch p {
            case .null: sqlite3_bind_null(stmt, k)
            case .integer(let v): sqlite3_bind_int64(stmt, k, v)
            case .real(let v): sqlite3_bind_double(stmt, k, v)
            case .text(let v): sqlite3_bind_text(stmt, k, v, -1, transient)
            case .blob(let v): _ = v.withUnsafeBytes { sqlite3_bind_blob(stmt, k, $0.baseAddress, Int32($0.count), transient) }
            }
        }
        var rows: [[String: Value]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw lastError(sql) }
            var row: [String: Value] = [:]
            for c in 0..<sqlite3_column_count(stmt) {
                let name = String(cString: sqlite3_column_name(stmt, c))
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row[name] = .integer(sqlite3_column_int64(stmt, c))
                case SQLITE_FLOAT: row[name] = .real(sqlite3_column_double(stmt, c))
                case SQLITE_TEXT: row[name] = .text(String(cString: sqlite3_column_text(stmt, c)))
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(stmt, c))
                    let p = sqlite3_column_blob(stmt, c)
                    row[name] = .blob(n > 0 ? Array(UnsafeRawBufferPointer(start: p, count: n)) : [])
                default: row[name] = .null
                }
            }
            rows.append(row)
        }
        return rows
    }

    var changes: Int { Int(sqlite3_changes(db)) }

    private func lastError(_ sql: String) -> Error {
        Error(description: "\(String(cString: sqlite3_errmsg(db))) in \(sql.prefix(80))")
    }
}
