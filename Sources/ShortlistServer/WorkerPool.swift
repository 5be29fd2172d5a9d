import Foundation
import Synchronization

/// A fixed set of threads (one per core by default) that run request jobs in arrival order from
/// a bounded queue, so CPU work never runs on the event loop (PERFORMANCE.md §6).
///
/// A worker takes its share of the waiting jobs at once (⌈waiting / workers⌉) and runs them
/// back to back; the replies they hand to `Batch.hand` are delivered when the whole batch is
/// done, all of one connection's together, so one wake-up of the event loop carries them all.
final class WorkerPool: @unchecked Sendable {
    typealias Job = (Batch) -> Void

    /// What the jobs one worker took together leave for the end: gathered searches and replies.
    final class Batch {
        /// Plain searches the jobs handed over, run together once every job has run.
        let searches = SearchBatcher()
        /// The worker thread that owns the batch.
        fileprivate let owner = pthread_self()
        /// Jobs are running (only read and written on `owner`).
        fileprivate var open = false
        /// Staged replies, one group per destination, in the order destinations first appeared.
        private var groups: [(destination: ObjectIdentifier, deliver: ([[UInt8]]) -> Void, replies: [[UInt8]])] = []

        /// Delivers `reply` through `deliver` when the batch ends, together with every other reply
        /// staged for the same `destination` (in order). Called on another thread, or after the
        /// batch ended (a write acknowledged from the log's syncer), it delivers at once.
        func hand(_ reply: [UInt8], to destination: ObjectIdentifier, _ deliver: @escaping ([[UInt8]]) -> Void) {
            guard pthread_equal(owner, pthread_self()) != 0, open else { return deliver([reply]) }
            if let i = groups.firstIndex(where: { $0.destination == destination }) {
                groups[i].replies.append(reply)
            } else {
                groups.append((destination, deliver, [reply]))
            }
        }

        /// Closes the batch and delivers what was staged.
        fileprivate func close() {
            open = false
            for g in groups { g.deliver(g.replies) }
            groups.removeAll(keepingCapacity: true)
        }
    }

    /// Threads in the pool.
    let threadCount: Int
    /// Jobs that may wait at most; `submit` refuses more.
    let capacity: Int

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let drained = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Job?]
    private var head = 0
    private var queued = 0
    private var running = 0
    private var stopping = false
    /// `queued`, readable without the lock, for the idle spin.
    private let waiting = Atomic<Int>(0)
    /// `queued + running`, kept under the lock and readable without it (`pending`, `isIdle`).
    private let outstanding = Atomic<Int>(0)
    /// How long an idle worker keeps checking for work (yielding the core to any other runnable
    /// thread) before it sleeps. Under steady load a worker never sleeps, so its core does not
    /// go idle between requests; on a virtual machine an idle core also loses its caches to
    /// other guests, which made searches ~1.6× slower at one request in flight per worker.
    let spinNanoseconds: UInt64

    init(threads: Int, capacity: Int, spinNanoseconds: UInt64 = 200_000) {
        self.spinNanoseconds = spinNanoseconds
        threadCount = max(1, threads)
        self.capacity = max(1, capacity)
        queue = Array(repeating: nil, count: self.capacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        pthread_cond_init(drained, nil)
        for i in 0..<threadCount {
            let t = Thread { self.work() }
            t.name = "shortlist-worker-\(i)"
            t.stackSize = 8 << 20
            t.start()
        }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(condition)
        pthread_cond_destroy(drained)
        mutex.deallocate()
        condition.deallocate()
        drained.deallocate()
    }

    /// Queues `jobs` in order under one lock, waking as many workers as needed; returns how many
    /// were accepted (the rest did not fit or the pool has stopped).
    func submit(_ jobs: [Job]) -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping else { return 0 }
        let accepted = min(jobs.count, capacity - queued)
        for job in jobs.prefix(accepted) {
            queue[(head + queued) % capacity] = job
            queued += 1
        }
        waiting.store(queued, ordering: .relaxed)
        outstanding.store(queued + running, ordering: .relaxed)
        if accepted == 1 { pthread_cond_signal(condition) } else if accepted > 1 { pthread_cond_broadcast(condition) }
        return accepted
    }

    /// Jobs waiting plus jobs running (read without the lock: a snapshot).
    var pending: Int { outstanding.load(ordering: .relaxed) }

    /// No job waits or runs (a snapshot, not a guarantee).
    var isIdle: Bool { pending == 0 }

    /// Blocks until no job waits or runs, or `timeout` seconds pass; true when drained.
    func waitUntilIdle(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while queued + running > 0 {
            var ts = timespec()
            let t = deadline.timeIntervalSince1970
            ts.tv_sec = Int(t)
            ts.tv_nsec = Int((t - Double(Int(t))) * 1e9)
            if pthread_cond_timedwait(drained, mutex, &ts) == ETIMEDOUT { return queued + running == 0 }
        }
        return true
    }

    /// Lets queued jobs finish, then ends the threads.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    private func work() {
        let batch = Batch()
        var jobs: [Job] = []
        while true {
            if waiting.load(ordering: .relaxed) == 0 && spinNanoseconds > 0 {
                let until = RequestProcessor.now() + spinNanoseconds
                while waiting.load(ordering: .relaxed) == 0 && RequestProcessor.now() < until { sched_yield() }
            }
            pthread_mutex_lock(mutex)
            while queued == 0 && !stopping { pthread_cond_wait(condition, mutex) }
            if queued == 0 && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            let take = (queued + threadCount - 1) / threadCount
            for _ in 0..<take {
                jobs.append(queue[head]!)
                queue[head] = nil
                head = (head + 1) % capacity
            }
            queued -= take
            waiting.store(queued, ordering: .relaxed)
            running += take
            pthread_mutex_unlock(mutex)
            batch.open = true
            for job in jobs { job(batch) }
            batch.searches.run()
            batch.close()
            jobs.removeAll(keepingCapacity: true)
            pthread_mutex_lock(mutex)
            running -= take
            outstanding.store(queued + running, ordering: .relaxed)
            if queued + running == 0 { pthread_cond_broadcast(drained) }
            pthread_mutex_unlock(mutex)
        }
    }
}
