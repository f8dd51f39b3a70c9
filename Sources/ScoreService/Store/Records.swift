import Foundation
import ScoreEngine

public enum JobKind: String, Sendable, CaseIterable {
    case train, sample, likelihood

    /// The queue lane a job runs in: training apart, so that sampling is answered during long runs.
    public var lane: Lane { self == .train ? .train : .sample }

    /// Jobs of the kind one node runs at once, when fewer than its lane's workers: a likelihood job keeps every
    /// chunk's gradient tape of the whole network and its threads for the whole run, so one at a time (the
    /// sampling lane's other workers go on with sampling jobs).
    public var maxRunningPerNode: Int? { self == .likelihood ? 1 : nil }
}

public enum Lane: String, Sendable, CaseIterable { case train, sample }

public enum JobStatus: String, Sendable, CaseIterable {
    case queued, running, succeeded, failed, canceled
    public var isFinished: Bool { self == .succeeded || self == .failed || self == .canceled }
}

/// Progress of a running job.
public struct JobProgress: Sendable, Equatable {
    public var step: Int
    public var total: Int
    public var loss: Double?
    /// Steps (training) or score evaluations (sampling) per second.
    public var rate: Double?
    public var etaSeconds: Double?

    public init(step: Int, total: Int, loss: Double? = nil, rate: Double? = nil, etaSeconds: Double? = nil) {
        self.step = step
        self.total = total
        self.loss = loss
        self.rate = rate
        self.etaSeconds = etaSeconds
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["step": .number(Double(step)), "total": .number(Double(total)),
                                      "fraction": .number(total > 0 ? (Double(step) / Double(total) * 1e4).rounded() / 1e4 : 0)]
        if let loss { o["loss"] = .number(loss) }
        if let rate { o["rate"] = .number((rate * 10).rounded() / 10) }
        if let etaSeconds { o["eta_seconds"] = .number((etaSeconds * 10).rounded() / 10) }
        return .object(o)
    }

    init?(_ v: JSONValue?) {
        guard let o = v?.object, let s = o["step"]?.number, let t = o["total"]?.number, abs(s) < 1e15, abs(t) < 1e15 else { return nil }
        self.init(step: Int(s), total: Int(t), loss: o["loss"]?.number, rate: o["rate"]?.number, etaSeconds: o["eta_seconds"]?.number)
    }
}

/// A job as stored: what was asked (`params`), where it is, what came of it.
public struct JobRecord: Sendable, Equatable {
    public var id: String
    public var kind: JobKind
    public var status: JobStatus
    public var params: JSONValue
    public var createdAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var progress: JobProgress?
    public var error: String?
    public var result: JSONValue?
    public var idempotencyKey: String?
    /// Times the job was started (more than one after a restart resumed it): also the number of the claim a
    /// worker writes under (`Fence`).
    public var attempts: Int
    /// Times the worker running it was lost (its lease lapsed, or the process died); `max_attempts` bounds it.
    public var lost = 0
    /// Someone asked to cancel it while it ran (honoured by its worker, or by the rescue if the worker is gone).
    public var cancelRequested = false
    /// The API key that submitted it (nil: submitted without one).
    public var owner: String?
    /// The node that must run it (nil: any): a streamed sampling job, whose stream lives in the process that
    /// took the request.
    public var node: String?

    public init(id: String, kind: JobKind, params: JSONValue, createdAt: Double, idempotencyKey: String? = nil, owner: String? = nil,
                node: String? = nil) {
        self.owner = owner
        self.node = node
        self.id = id
        self.kind = kind
        self.status = .queued
        self.params = params
        self.createdAt = createdAt
        self.idempotencyKey = idempotencyKey
        self.attempts = 0
    }
}

/// A trained model.
public struct ModelRecord: Sendable, Equatable {
    public var id: String
    public var jobId: String
    public var createdAt: Double
    /// Everything else about it (`ModelInfo`): data, recipe, architecture, perturbation, training figures.
    public var info: JSONValue
    /// The API key whose training job made it (nil: none).
    public var owner: String?

    public init(id: String, jobId: String, createdAt: Double, info: JSONValue, owner: String? = nil) {
        self.owner = owner
        self.id = id
        self.jobId = jobId
        self.createdAt = createdAt
        self.info = info
    }
}

/// An uploaded data set (built-in ones are not stored).
public struct DatasetRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var kind: DataKind
    public var count: Int
    /// Shape of one item.
    public var shape: [Int]
    public var createdAt: Double
    /// The number of classes of its labels (0…classes−1), nil when it has none.
    public var classes: Int?
    /// The API key that uploaded it (nil: none).
    public var owner: String?
    /// The size of the upload's body (what counts against its key's upload limit).
    public var bytes: Int

    public init(id: String, name: String, kind: DataKind, count: Int, shape: [Int], createdAt: Double, classes: Int? = nil,
                owner: String? = nil, bytes: Int = 0) {
        self.classes = classes
        self.owner = owner
        self.bytes = bytes
        self.id = id
        self.name = name
        self.kind = kind
        self.count = count
        self.shape = shape
        self.createdAt = createdAt
    }
}

/// A row the store cannot read back (corrupt, or written by a newer release): it names the row.
public struct CorruptRecord: Error, CustomStringConvertible {
    public let table: String
    public let id: String
    public let reason: String
    public var description: String { "\(table) row \(id): \(reason)" }
}

/// A claim on a running job: its id and the attempt that claimed it. Writes made under a claim (progress, the
/// outcome, a training state, a model) land only while the job is still running under that attempt, so a
/// worker that lost its lease cannot overwrite what the job's new owner does (fencing by attempt number).
public struct Fence: Sendable, Equatable {
    public let job: String
    public let attempt: Int
    public init(job: String, attempt: Int) {
        self.job = job
        self.attempt = attempt
    }
}

/// A write under a claim that no longer holds.
public struct LeaseLost: Error, CustomStringConvertible {
    public let fence: Fence
    public var description: String { "job \(fence.job) is no longer held by attempt \(fence.attempt)" }
}

/// What renewing a lease found.
public enum Heartbeat: Sendable, Equatable {
    /// Still ours (and whether someone asked to cancel it).
    case held(cancelRequested: Bool)
    /// Rescued from us (the lease had lapsed), finished, or deleted.
    case lost
}

/// A lane already holds its cap of queued jobs.
public struct QueueFull: Error { public let lane: Lane }

/// The submitting key already has its limit of queued and running jobs.
public struct OwnerLimitReached: Error { public let limit: Int }

/// An upload would take its key past the bytes of uploads it may keep.
public struct UploadLimitReached: Error { public let used: Int, limit: Int }

/// Where the service keeps its records: jobs (the queue), models, uploaded data sets and API keys.
/// `SQLiteStore` (embedded, one process) and `PostgresStore` (several API and worker nodes on one database)
/// implement it with the same statements (`SQLRecordStore`).
public protocol RecordStore: Sendable {
    /// Whether several processes share it (then events and cancellations travel through it, and lapsed leases
    /// are rescued while the service runs).
    var isShared: Bool { get }
    /// Tells the other nodes (nothing to do for a store no other process shares).
    func publish(_ event: StoreEvent)

    /// Inserts a job; with an idempotency key already used, returns the job it created instead (`created` false).
    /// With `queueCap`, refuses (`QueueFull`) when the job's lane already holds that many queued jobs; with
    /// `ownerLimit`, when its owner has that many queued or running jobs (`OwnerLimitReached`). Both are checked
    /// in the inserting transaction, so they hold across nodes.
    func insert(_ job: JobRecord, queueCap: Int?, ownerLimit: Int?) throws -> (job: JobRecord, created: Bool)
    func job(_ id: String) throws -> JobRecord?
    func job(idempotencyKey: String) throws -> JobRecord?
    /// Jobs, newest first; with `owner`, only that key's (`.some(nil)`: those made without a key).
    func jobs(status: JobStatus?, kind: JobKind?, limit: Int, owner: String??) throws -> [JobRecord]
    /// Queued and running jobs of a key.
    func activeJobs(owner: String) throws -> Int
    /// Writes a job's state; with a fence, only while that claim holds (false: it did not). A model the job
    /// made is inserted in the same transaction, so that a job never both loses its claim and leaves a model.
    func update(_ job: JobRecord, fence: Fence?, model: ModelRecord?) throws -> Bool
    func deleteJob(_ id: String) throws
    /// Atomically marks the oldest queued job of these kinds running under a lease of `worker`'s (named
    /// `node/lane/k`; jobs pinned to another node are passed over) and returns it with its attempt counted.
    func claimNext(kinds: [JobKind], now: Double, worker: String, leaseSeconds: Double) throws -> JobRecord?
    /// Renews a claim's lease.
    func heartbeat(_ fence: Fence, leaseSeconds: Double) throws -> Heartbeat
    /// Cancels a job that is still queued (false: it is not queued, e.g. a worker claimed it meanwhile).
    func cancelQueued(_ id: String, at: Double) throws -> Bool
    /// A running job's progress, written under its claim (false: the claim no longer holds).
    func setProgress(_ fence: Fence, _ progress: JobProgress) throws -> Bool
    /// Asks the worker running a job to cancel it (false: it is not running).
    func requestCancel(_ id: String) throws -> Bool
    /// Running jobs whose lease lapsed: requeued (their `lost` count raised), failed once it reaches
    /// `maxAttempts`, canceled if that was asked; and (PostgreSQL) jobs pinned to a node that is gone: failed.
    func rescueLapsed(maxAttempts: Int) throws -> [JobRecord]
    /// Every running job, as `rescueLapsed` does (a single process starting: none of them is running).
    func requeueRunning(maxAttempts: Int) throws -> [JobRecord]
    /// A running job's latest preview, for nodes other than the one running it.
    func setPreview(_ fence: Fence, number: Int, body: JSONValue) throws
    func preview(_ id: String) throws -> (number: Int, body: JSONValue)?
    func count(status: JobStatus, kinds: [JobKind]) throws -> Int
    func countsByStatus() throws -> [JobStatus: Int]
    /// Finished jobs older than `before` (for retention).
    func expiredJobs(before: Double) throws -> [JobRecord]

    /// Inserts a model (a training job's goes in with its outcome: `update(_:fence:model:)`).
    func insert(_ model: ModelRecord) throws
    func model(_ id: String) throws -> ModelRecord?
    /// Models, newest first (with `owner`, that key's only).
    func models(limit: Int, owner: String??) throws -> [ModelRecord]
    func deleteModel(_ id: String) throws
    func expiredModels(before: Double) throws -> [ModelRecord]

    /// Inserts an upload's record; with `uploadLimit`, refuses (`UploadLimitReached`) when its owner's uploads and
    /// this one would exceed that many bytes, checked in the inserting transaction so that it holds across nodes.
    func insert(_ dataset: DatasetRecord, uploadLimit: Int?) throws
    /// Records that a data set's labels were set (its class count).
    func setClasses(_ classes: Int?, dataset id: String) throws
    func dataset(_ id: String) throws -> DatasetRecord?
    func datasets(owner: String??) throws -> [DatasetRecord]
    func deleteDataset(_ id: String) throws
    /// The bytes of a key's uploads.
    func uploadBytes(owner: String) throws -> Int

    func insert(_ key: APIKeyRecord) throws
    func key(_ id: String) throws -> APIKeyRecord?
    /// Every key, revoked ones too, oldest first.
    func keys() throws -> [APIKeyRecord]
    /// Marks a key revoked; false if there is no such key or it was revoked already.
    func revokeKey(_ id: String, at: Double) throws -> Bool
    /// Whether any key was ever made (the service then asks every request for one).
    func hasKeys() throws -> Bool
}

/// Random identifiers with a readable prefix (`j_` jobs, `m_` models, `d_` data sets, `k_` API keys).
func newID(_ prefix: String) -> String {
    var g = SystemRandomNumberGenerator()
    let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
    return prefix + "_" + String((0..<14).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
}

extension RecordStore {
    public func insert(_ job: JobRecord) throws -> (job: JobRecord, created: Bool) { try insert(job, queueCap: nil, ownerLimit: nil) }
    public func insert(_ job: JobRecord, queueCap: Int?) throws -> (job: JobRecord, created: Bool) {
        try insert(job, queueCap: queueCap, ownerLimit: nil)
    }
    public func update(_ job: JobRecord) throws { _ = try update(job, fence: nil, model: nil) }
    public func insert(_ dataset: DatasetRecord) throws { try insert(dataset, uploadLimit: nil) }
    public func update(_ job: JobRecord, fence: Fence?) throws -> Bool { try update(job, fence: fence, model: nil) }
    /// A claim by this process's only node, with a lease longer than any test.
    public func claimNext(kinds: [JobKind], now: Double) throws -> JobRecord? {
        try claimNext(kinds: kinds, now: now, worker: "local/any/0", leaseSeconds: 86_400)
    }
    public func requeueRunning() throws -> [JobRecord] { try requeueRunning(maxAttempts: .max) }
    /// Every owner's jobs, newest first.
    public func jobs(status: JobStatus?, kind: JobKind?, limit: Int) throws -> [JobRecord] {
        try jobs(status: status, kind: kind, limit: limit, owner: nil)
    }
    /// Every owner's models, newest first.
    public func models(limit: Int) throws -> [ModelRecord] { try models(limit: limit, owner: nil) }
    /// Every owner's uploads, newest first.
    public func datasets() throws -> [DatasetRecord] { try datasets(owner: nil) }
}
