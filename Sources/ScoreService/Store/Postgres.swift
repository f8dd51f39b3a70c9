import CPostgres
import Foundation
import Synchronization

/// PostgreSQL through libpq's C API, as SQLite is used through its own: blocking calls on a small pool of
/// connections, statements with parameters sent apart from the text (`?` placeholders numbered `$1…` here),
/// rows in text form decoded by column type. A connection that breaks (the server restarted, the session was
/// terminated, the network went) is dropped and the next call opens a new one.
final class PostgresDatabase: SQLDatabase, @unchecked Sendable {
    var dialect: SQLDialect { .postgres }

    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
        /// The five-character SQLSTATE, when the server sent one.
        var sqlState: String? = nil
        /// The connection was lost (the statement may or may not have run).
        var connectionLost = false
    }

    /// Where and how to connect: the URL (`postgres://user[:password]@host[:port]/db?…`), a password read from
    /// a file when the URL has none, and the name the sessions carry (`application_name`, seen in
    /// `pg_stat_activity`).
    struct Target: Sendable {
        var url: String
        var password: String?
        var applicationName: String
    }

    let target: Target
    let maxConnections: Int
    private let pool = NSCondition()
    private var idle: [Connection] = []
    private var opened = 0
    private let translated = Mutex<[String: String]>([:])

    init(_ target: Target, maxConnections: Int = 8) throws {
        self.target = target
        self.maxConnections = maxConnections
        // Connect once now, so that a wrong URL or password is a start-up error.
        let c = try Connection(target)
        c.used = true
        pool.lock()
        idle.append(c)
        opened = 1
        pool.unlock()
    }

    deinit { for c in idle { c.close() } }

    /// Whether an error is the database being unreachable (a lost or refused connection), which may pass.
    static func isTransient(_ error: any Swift.Error) -> Bool { (error as? Error)?.connectionLost == true }

    /// The URL with its password replaced, for logs.
    static func redacted(_ url: String) -> String {
        guard var u = URLComponents(string: url) else { return "postgres://…" }
        if u.password != nil { u.password = "***" }
        return u.string ?? "postgres://…"
    }

    // MARK: the pool

    private func borrow() throws -> Connection {
        pool.lock()
        while idle.isEmpty && opened >= maxConnections { pool.wait() }
        if let c = idle.popLast() { pool.unlock(); return c }
        opened += 1
        pool.unlock()
        do { return try Connection(target) } catch {
            giveBack(nil)
            throw error
        }
    }

    /// Returns a connection to the pool (nil, or a broken one: its slot is freed).
    private func giveBack(_ c: Connection?) {
        pool.lock()
        if let c, c.isUsable { idle.append(c) } else {
            c?.close()
            opened -= 1
        }
        pool.signal()
        pool.unlock()
    }

    /// Runs `body` on a pooled connection. A pooled connection that turns out dead (the server restarted or
    /// ended the session while it sat idle) is replaced and `body` run once more on a new one.
    /// Only when the first statement failed is it run again (nothing ran then); the idle connections, from
    /// the same server session era, are dropped with it.
    func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        let c = try borrow()
        let reused = c.used
        c.used = true
        c.succeeded = 0
        do {
            let r = try body(c)
            giveBack(c)
            return r
        } catch let e as Error where e.connectionLost && reused && c.succeeded == 0 {
            giveBack(c)
            dropIdle()
            let fresh = try borrow()
            fresh.used = true
            fresh.succeeded = 0
            defer { giveBack(fresh) }
            return try body(fresh)
        } catch {
            giveBack(c)
            throw error
        }
    }

    private func dropIdle() {
        pool.lock()
        let dropped = idle
        idle.removeAll()
        opened -= dropped.count
        pool.broadcast()
        pool.unlock()
        for c in dropped { c.close() }
    }

    /// `?` placeholders numbered for PostgreSQL (the statements have no `?` inside literals).
    func numbered(_ sql: String) -> String {
        if let hit = translated.withLock({ $0[sql] }) { return hit }
        var out = "", n = 0
        for ch in sql {
            if ch == "?" { n += 1; out += "$\(n)" } else { out.append(ch) }
        }
        translated.withLock { if $0.count < 1000 { $0[sql] = out } }
        return out
    }

    func query(_ sql: String, _ params: [SQLValue]) throws -> [SQLRow] {
        let text = numbered(sql)
        return try withConnection { try $0.query(text, params) }
    }

    func inTransaction<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try withConnection { c in
            _ = try c.query("BEGIN", [])
            do {
                let r = try body(InTransaction(db: self, connection: c))
                try c.commit()
                return r
            } catch {
                if PQstatus(c.conn) == CONNECTION_OK { _ = try? c.query("ROLLBACK", []) }
                throw error
            }
        }
    }

    private struct InTransaction: SQLConnection {
        let db: PostgresDatabase
        let connection: Connection
        func query(_ sql: String, _ params: [SQLValue]) throws -> [SQLRow] { try connection.query(db.numbered(sql), params) }
    }

    // MARK: one connection

    final class Connection {
        let conn: OpaquePointer
        /// It ran a statement before (a dead pooled connection is only found out by using it).
        var used = false
        /// Statements that succeeded during the current borrow.
        var succeeded = 0

        init(_ target: Target) throws {
            // A host that vanishes (not a refused connection: no answer at all) is noticed by TCP keepalives and a
            // timeout on unacknowledged data, within about 15 s, instead of the kernel's many minutes.
            var keys = ["dbname", "application_name", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout"]
            var values = [target.url, target.applicationName, "5", "1", "5", "2", "3", "15000"]
            if let p = target.password { keys.append("password"); values.append(p) }
            let cKeys = keys.map { strdup($0) } + [nil], cValues = values.map { strdup($0) } + [nil]
            defer { for p in cKeys + cValues { free(p) } }
            let c = cKeys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
                cValues.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in PQconnectdbParams(k.baseAddress, v.baseAddress, 1) }
            }
            guard let c else { throw Error(description: "PostgreSQL: out of memory", connectionLost: true) }
            guard PQstatus(c) == CONNECTION_OK else {
                let message = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
                PQfinish(c)
                throw Error(description: "cannot connect to PostgreSQL (\(PostgresDatabase.redacted(target.url))): \(message)", connectionLost: true)
            }
            conn = c
            // Quiet: NOTICEs (IF NOT EXISTS …) are not errors. bytea in hex, whatever the server's default.
            _ = try? query("SET client_min_messages = warning", [])
            _ = try? query("SET bytea_output = hex", [])
        }

        /// COMMIT, which reports a transaction the server had already aborted as ROLLBACK rather than an error.
        func commit() throws {
            let res = PQexec(conn, "COMMIT")
            defer { PQclear(res) }
            let tag = res.map { String(cString: PQcmdStatus($0)) } ?? ""
            guard PQresultStatus(res) == PGRES_COMMAND_OK, tag == "COMMIT" else {
                throw Error(description: "PostgreSQL: the transaction did not commit (\(tag.isEmpty ? String(cString: PQerrorMessage(conn)) : tag))",
                            connectionLost: PQstatus(conn) != CONNECTION_OK)
            }
        }

        var isUsable: Bool { PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE }

        func close() { PQfinish(conn) }

        func query(_ sql: String, _ params: [SQLValue]) throws -> [SQLRow] {
            var types: [Oid] = [], buffers: [UnsafeMutablePointer<CChar>?] = [], lengths: [Int32] = [], formats: [Int32] = []
            for p in params {
                switch p {
                case .null: types.append(0); buffers.append(nil); lengths.append(0); formats.append(0)
                case .integer(let v): types.append(20); buffers.append(strdup(String(v))); lengths.append(0); formats.append(0)
                case .real(let v): types.append(701); buffers.append(strdup("\(v)")); lengths.append(0); formats.append(0)
                case .text(let v): types.append(25); buffers.append(strdup(v)); lengths.append(0); formats.append(0)
                case .blob(let b):
                    let m = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, b.count))
                    b.withUnsafeBytes { src in if let base = src.baseAddress { memcpy(m, base, b.count) } }
                    types.append(17); buffers.append(m); lengths.append(Int32(b.count)); formats.append(1)
                }
            }
            defer {
                for (p, f) in zip(buffers, formats) { if f == 1 { p?.deallocate() } else { free(p) } }
            }
            let res = buffers.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
                PQexecParams(conn, sql, Int32(params.count), types, values.baseAddress, lengths, formats, 0)
            }
            defer { PQclear(res) }
            let status = PQresultStatus(res)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
                let message = res.map { String(cString: PQresultErrorMessage($0)) } ?? String(cString: PQerrorMessage(conn))
                let state = res.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
                throw Error(description: "PostgreSQL: \(message.trimmingCharacters(in: .whitespacesAndNewlines)) in \(sql.prefix(80))",
                            sqlState: state, connectionLost: PQstatus(conn) != CONNECTION_OK)
            }
            succeeded += 1
            var rows: [SQLRow] = []
            let n = PQntuples(res), columns = PQnfields(res)
            rows.reserveCapacity(Int(n))
            let names = (0..<columns).map { String(cString: PQfname(res, $0)) }
            let oids = (0..<columns).map { PQftype(res, $0) }
            for r in 0..<n {
                var row: SQLRow = [:]
                for c in 0..<columns {
                    if PQgetisnull(res, r, c) == 1 { row[names[Int(c)]] = .null; continue }
                    let text = String(cString: PQgetvalue(res, r, c))
                    row[names[Int(c)]] = PostgresDatabase.decode(text, oid: oids[Int(c)])
                }
                rows.append(row)
            }
            return rows
        }
    }

    /// A column's text form as a value, by its type: integers, floating point, booleans (as 0 or 1), bytea (hex).
    static func decode(_ text: String, oid: Oid) -> SQLValue {
        switch oid {
        case 20, 21, 23: return Int64(text).map { .integer($0) } ?? .text(text)
        case 700, 701, 1700: return Double(text).map { .real($0) } ?? .text(text)
        case 16: return .integer(text == "t" ? 1 : 0)
        case 17: return .blob(hexBytes(text))
        default: return .text(text)
        }
    }

    /// bytea's hex output (`\x0a1b…`).
    static func hexBytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let u = Array(text.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x") else { return [] }
        out.reserveCapacity((u.count - 2) / 2)
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return 0
            }
        }
        var i = 2
        while i + 1 < u.count {
            out.append(nibble(u[i]) << 4 | nibble(u[i + 1]))
            i += 2
        }
        return out
    }
}

/// A connection of its own that LISTENs on a channel and hands each notification's payload to `handler`,
/// on its own thread. A lost connection is opened again (with `reconnected` called, since notifications sent
/// meanwhile are gone) until `stop()`.
final class PostgresListener: @unchecked Sendable {
    let target: PostgresDatabase.Target
    let channel: String
    let handler: @Sendable (String) -> Void
    let reconnected: @Sendable () -> Void
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(target: PostgresDatabase.Target, channel: String, handler: @escaping @Sendable (String) -> Void,
         reconnected: @escaping @Sendable () -> Void) {
        self.target = target
        self.channel = channel
        self.handler = handler
        self.reconnected = reconnected
    }

    func start() {
        let t = Thread { [self] in
            run()
            done.signal()
        }
        t.name = "pg listener"
        t.start()
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        _ = done.wait(timeout: .now() + 3)
    }

    private func run() {
        var first = true
        while !stopping.load(ordering: .relaxed) {
            guard let c = try? PostgresDatabase.Connection(target) else {
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            defer { c.close() }
            guard (try? c.query("LISTEN \(channel)", [])) != nil else {
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            if !first { reconnected() }
            first = false
            let fd = PQsocket(c.conn)
            while !stopping.load(ordering: .relaxed) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, 200)
                if r < 0 && errno != EINTR { break }
                if r > 0 { guard PQconsumeInput(c.conn) == 1 else { break } }
                while let n = PQnotifies(c.conn) {
                    let payload = String(cString: n.pointee.extra)
                    PQfreemem(n)
                    handler(payload)
                }
                if PQstatus(c.conn) != CONNECTION_OK { break }
            }
        }
    }
}
