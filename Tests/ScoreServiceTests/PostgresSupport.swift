import CPostgres
import Foundation
import ScoreService
import Testing

/// The PostgreSQL server the tests use: `SCORED_TEST_POSTGRES`, a superuser URL (scripts/test starts a throwaway
/// cluster and sets it). Each test makes databases of its own.
enum TestPostgres {
    struct Missing: Error, CustomStringConvertible {
        var description: String { "SCORED_TEST_POSTGRES is not set: run scripts/test (it starts a throwaway cluster), or point it at a superuser URL" }
    }

    static var url: String { get throws {
        guard let u = ProcessInfo.processInfo.environment["SCORED_TEST_POSTGRES"], !u.isEmpty else { throw Missing() }
        return u
    } }

    /// The URL with another database (or user).
    static func url(database: String, user: String? = nil) throws -> String {
        var c = try #require(URLComponents(string: try url))
        c.path = "/" + database
        if let user { c.user = user }
        return try #require(c.string)
    }

    /// Runs statements on a database of the test server; rows as text.
    @discardableResult
    static func execute(_ sql: String, database: String? = nil) throws -> [[String: String]] {
        let target = try database.map { try url(database: $0) } ?? (try url)
        guard let c = PQconnectdb(target), PQstatus(c) == CONNECTION_OK else { throw CocoaError(.fileReadUnknown, userInfo: ["postgres": target]) }
        defer { PQfinish(c) }
        let r = PQexec(c, sql)
        defer { PQclear(r) }
        let status = PQresultStatus(r)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw CocoaError(.fileWriteUnknown, userInfo: ["postgres": String(cString: PQresultErrorMessage(r)), "sql": sql])
        }
        var rows: [[String: String]] = []
        for i in 0..<PQntuples(r) {
            var row: [String: String] = [:]
            for j in 0..<PQnfields(r) where PQgetisnull(r, i, j) == 0 {
                row[String(cString: PQfname(r, j))] = String(cString: PQgetvalue(r, i, j))
            }
            rows.append(row)
        }
        return rows
    }

    /// A new empty database; its URL.
    static func createDatabase() throws -> (name: String, url: String) {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try execute("CREATE DATABASE \(name)")
        return (String(name), try url(database: String(name)))
    }

    static func dropDatabase(_ name: String) {
        _ = try? execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)' AND pid <> pg_backend_pid()")
        _ = try? execute("DROP DATABASE IF EXISTS \(name)")
    }
}

/// The stores the contract tests run against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A fresh store of a kind, with a way to run raw statements on it (to make rows it must refuse) and to
/// remove it.
struct TestStore {
    let store: any RecordStore
    let schemaVersion: Int
    let execute: (String) throws -> Void
    let remove: () -> Void

    static func make(_ kind: StoreKind) throws -> TestStore {
        switch kind {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString).db").path
            let s = try SQLiteStore(path: path)
            return TestStore(store: s, schemaVersion: try s.schemaVersion, execute: { try SQLiteFile.execute(path, $0) },
                             remove: { try? FileManager.default.removeItem(atPath: path) })
        case .postgres:
            let db = try TestPostgres.createDatabase()
            let s = try PostgresStore(url: db.url, applicationName: "scored tests", maxConnections: 4)
            return TestStore(store: s, schemaVersion: try s.schemaVersion, execute: { try TestPostgres.execute($0, database: db.name) },
                             remove: { TestPostgres.dropDatabase(db.name) })
        }
    }
}
