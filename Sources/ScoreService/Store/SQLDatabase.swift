import Foundation

/// A value bound to a statement or read from a row, the same for SQLite and PostgreSQL.
enum SQLValue: Equatable, Sendable {
    case null, integer(Int64), real(Double), text(String), blob([UInt8])
    var string: String? { if case .text(let s) = self { return s }; return nil }
    var double: Double? {
        switch self {
        case .real(let d): return d
        case .integer(let i): return Double(i)
        default: return nil
        }
    }
    var int: Int? { if case .integer(let i) = self { return Int(i) }; return double.map { Int($0) } }
    var bytes: [UInt8]? { if case .blob(let b) = self { return b }; return nil }
}

typealias SQLRow = [String: SQLValue]

/// The two databases the store runs on. Statements are written once, with `?` placeholders (PostgreSQL's
/// connection numbers them); what differs is said here.
enum SQLDialect: Sendable {
    case sqlite, postgres

    /// The database's clock in seconds since 1970: leases are measured by it, so that hosts whose clocks
    /// disagree still agree on when a lease lapsed.
    var clock: String {
        switch self {
        case .sqlite: return "((julianday('now') - 2440587.5) * 86400.0)"
        case .postgres: return "(EXTRACT(EPOCH FROM clock_timestamp())::double precision)"
        }
    }

    /// The queue's order: oldest first (submission time; PostgreSQL's sequence breaks ties).
    var queueOrder: String { self == .postgres ? "created_at, seq" : "created_at, id" }

    /// What a claim's inner SELECT adds so that concurrent claimers pass over each other's rows.
    var skipLocked: String { self == .postgres ? " FOR UPDATE SKIP LOCKED" : "" }
}

/// Statements on one connection (inside a transaction).
protocol SQLConnection {
    func query(_ sql: String, _ params: [SQLValue]) throws -> [SQLRow]
}

extension SQLConnection {
    func execute(_ sql: String, _ params: [SQLValue] = []) throws { _ = try query(sql, params) }
}

/// A database the record store runs on: single statements, and transactions on one connection.
protocol SQLDatabase: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    func query(_ sql: String, _ params: [SQLValue]) throws -> [SQLRow]
    func inTransaction<T>(_ body: (any SQLConnection) throws -> T) throws -> T
}

extension SQLDatabase {
    func execute(_ sql: String, _ params: [SQLValue] = []) throws { _ = try query(sql, params) }
}
