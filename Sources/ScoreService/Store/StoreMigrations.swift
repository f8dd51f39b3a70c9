import Foundation
import ScoreEngine

/// The store's schema versions, in order. Opening a data directory applies every migration above its
/// `user_version`, each in one transaction with the version it reaches, so that a directory written by an
/// earlier release upgrades in place and a failed migration leaves it as it was. A directory written by a newer
/// release is refused.
enum StoreMigrations {
    struct Migration: Sendable {
        let version: Int
        let summary: String
        /// Runs inside the migration's transaction (use the connection's unlocked calls).
        let apply: @Sendable (SQLiteDatabase) throws -> Void
    }

    static let all: [Migration] = [
        Migration(version: 1, summary: "jobs, models and uploaded data sets") { db in
            try db.executeUnlocked("""
                CREATE TABLE IF NOT EXISTS jobs (
                  id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
                  created_at REAL NOT NULL, started_at REAL, finished_at REAL, progress TEXT, error TEXT, result TEXT,
                  idempotency_key TEXT UNIQUE, attempts INTEGER NOT NULL DEFAULT 0)
                """)
            try db.executeUnlocked("CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(status, created_at)")
            try db.executeUnlocked("""
                CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, job_id TEXT NOT NULL, created_at REAL NOT NULL, info TEXT NOT NULL)
                """)
            try db.executeUnlocked("""
                CREATE TABLE IF NOT EXISTS datasets (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
                  count INTEGER NOT NULL, shape TEXT NOT NULL, created_at REAL NOT NULL)
                """)
        },
        Migration(version: 2, summary: "job parameters and model records in their documented shapes (recipes as requests send them, tagged architectures and perturbations)") { db in
            try LegacyRecords.upgrade(db)
        },
        Migration(version: 3, summary: "uploaded data sets may carry labels: their number of classes") { db in
            try db.executeUnlocked("ALTER TABLE datasets ADD COLUMN classes INTEGER")
        },
        Migration(version: 4, summary: "API keys (their secrets' hashes, scopes and limits); jobs, models and uploads owned by the key that made them") { db in
            try db.executeUnlocked("""
                CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, secret_hash TEXT NOT NULL,
                  created_at REAL NOT NULL, revoked_at REAL, max_jobs INTEGER, max_upload_bytes INTEGER, max_samples INTEGER, acts_for TEXT)
                """)
            try db.executeUnlocked("ALTER TABLE jobs ADD COLUMN owner TEXT")
            try db.executeUnlocked("CREATE INDEX jobs_owner ON jobs(owner, status)")
            try db.executeUnlocked("ALTER TABLE models ADD COLUMN owner TEXT")
            try db.executeUnlocked("ALTER TABLE datasets ADD COLUMN owner TEXT")
            try db.executeUnlocked("ALTER TABLE datasets ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0")
        },
        Migration(version: 5, summary: "leases on running jobs (their worker and when the lease lapses), lost workers counted, cancellation requests, jobs pinned to a node, previews") { db in
            try db.executeUnlocked("ALTER TABLE jobs ADD COLUMN node TEXT")
            try db.executeUnlocked("ALTER TABLE jobs ADD COLUMN worker TEXT")
            try db.executeUnlocked("ALTER TABLE jobs ADD COLUMN lease_until REAL")
            try db.executeUnlocked("ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0")
            try db.executeUnlocked("ALTER TABLE jobs ADD COLUMN lost INTEGER NOT NULL DEFAULT 0")
            try db.executeUnlocked("CREATE TABLE job_previews (job_id TEXT PRIMARY KEY, number INTEGER NOT NULL, body TEXT NOT NULL)")
        },
    ]

    static var latest: Int { all.last!.version }

    static func run(on db: SQLiteDatabase) throws {
        let current = try db.userVersion()
        guard current <= latest else {
            throw SQLiteDatabase.Error(description: "the store is at schema version \(current); this release reads up to \(latest)")
        }
        for m in all where m.version > current {
            try db.transaction {
                try m.apply(db)
                try db.executeUnlocked("PRAGMA user_version = \(m.version)")
            }
        }
    }
}
