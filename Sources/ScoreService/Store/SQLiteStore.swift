import Foundation

/// The embedded store: SQLite for jobs, models, data sets and keys (`store.db` in the data directory), with
/// the artifacts as files beside it. The schema is versioned by SQLite's `user_version`; opening a data
/// directory runs the migrations it has not had, in order and each in one transaction (`StoreMigrations`).
public final class SQLiteStore: SQLRecordStore, RecordStore, @unchecked Sendable {
    let sqlite: SQLiteDatabase

    public init(path: String) throws {
        sqlite = try SQLiteDatabase(path: path)
        try StoreMigrations.run(on: sqlite)
        super.init(db: sqlite)
    }

    /// The schema version of the open database.
    public var schemaVersion: Int { get throws { try sqlite.userVersion() } }

    /// One process owns the file.
    public var isShared: Bool { false }

    public func publish(_ event: StoreEvent) {}
}
