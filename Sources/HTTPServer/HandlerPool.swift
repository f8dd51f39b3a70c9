import Foundation

/// The threads request handlers and streamed bodies run on: a task executor of its own (a fixed number of
/// threads taking jobs in order), so that handlers neither wait behind nor hold up other users of Swift's global
/// cooperative pool, and a handler that blocks briefly (the store, a file) holds one of these threads only.
/// Work that waits long (a job, an event) awaits, which frees the thread.
final class HandlerPool: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var stopped = false
    let threads: Int

    init(threads: Int, name: String = "http.handler") {
        self.threads = threads
        for i in 0..<threads {
            // The threads hold the pool: it lives until they have ended (after `stop`).
            let t = Thread { [self] in run() }
            t.name = "\(name).\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
    }

    /// Lets the threads end once the jobs queued so far have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        if stopped {
            // Work resumed after the server stopped (a timeout, a writer told its connection is gone) still runs.
            condition.unlock()
            DispatchQueue.global().async { [self] in unowned.runSynchronously(on: asUnownedTaskExecutor()) }
            return
        }
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while head == jobs.count && !stopped { condition.wait() }
            if head == jobs.count && stopped {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
