import Foundation
import ShortlistCore
import Synchronization

/// A fixed set of threads (one per core by default) that run request jobs from a bounded queue,
/// so CPU work never runs on the event loop (docs/performance.md §6).
///
/// Fairness: jobs are queued per lane (a connection) and taken round-robin across lanes, one job
/// of each in turn; within a lane, in arrival order. A client that pipelines a thousand slow
/// searches delays another connection's request by about one job per busy connection, not by
/// its whole backlog.
///
/// A worker runs the jobs it finds waiting back to back as one batch (up to 64, or 4 ms), taking
/// them one at a time; the replies they hand to `Batch.hand` are delivered when the batch is
/// done, all of one connection's together, so one wake-up of the event loop carries them all.
///
/// The pool knows nothing of requests: each worker owns a `Context` its jobs may leave work in
/// (the server's is a `SearchBatcher`), finished when the batch ends, before replies go out.
final class WorkerPool<Context: WorkerContext>: @unchecked Sendable {
    typealias Job = (Batch) -> Void

    /// What the jobs one worker took together leave for the end: the context's work and replies.
    final class Batch {
        /// The worker's context; `finishBatch` runs once every job of the batch has run.
        let context = Context()
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

    /// Jobs one worker runs as one batch at most (their replies are handed over together)…
    static var maximumBatch: Int { 64 }
    /// …and the time after which it takes no more into the batch (4 ms): long enough that
    /// hand-overs stay rare under pipelined load, short enough that a request taken into a
    /// batch does not wait long for its reply.
    static var batchNanoseconds: UInt64 { 4_000_000 }
    /// Threads in the pool.
    let threadCount: Int
    /// Jobs that may wait at most; `submit` refuses more.
    let capacity: Int

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let drained = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The jobs of one connection waiting for a worker (guarded by the pool's lock). A
    /// connection keeps its lane for its lifetime.
    final class Lane {
        /// Taken jobs are set to nil (releasing what they hold) and dropped from the front now
        /// and then, so a lane that never empties does not keep every job it ever had.
        fileprivate var jobs: [Job?] = []
        fileprivate var head = 0
        /// In the pool's round-robin ring (has waiting jobs).
        fileprivate var inRing = false
        fileprivate var isEmpty: Bool { head == jobs.count }

        fileprivate func take() -> Job {
            let job = jobs[head]!
            jobs[head] = nil
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 256 && head * 2 >= jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return job
        }
    }
    /// Lanes with waiting jobs, in round-robin order.
    private var ring: [Lane] = []
    private var ringPosition = 0
    /// The lane of jobs submitted without one.
    private let sharedLane = Lane()
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

    /// Queues `jobs` in order in `lane` (a connection's; nil: one shared lane) under one lock,
    /// waking as many workers as needed; returns how many were accepted (the rest did not fit or
    /// the pool has stopped).
    func submit(_ jobs: [Job], lane: Lane? = nil) -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping, !jobs.isEmpty else { return 0 }
        let l = lane ?? sharedLane
        // A connection with nothing waiting always gets one job in, full queue or not: clients
        // that fill the queue cannot lock out one that asks for a single thing.
        let accepted = max(min(jobs.count, capacity - queued), lane != nil && !l.inRing ? 1 : 0)
        guard accepted > 0 else { return 0 }
        for job in jobs.prefix(accepted) { l.jobs.append(job) }
        if !l.inRing {
            l.inRing = true
            ring.append(l)
        }
        queued += accepted
        waiting.store(queued, ordering: .relaxed)
        outstanding.store(queued + running, ordering: .relaxed)
        if accepted == 1 { pthread_cond_signal(condition) } else { pthread_cond_broadcast(condition) }
        return accepted
    }

    /// The next job, round-robin across lanes (call with the lock held and `queued > 0`).
    private func takeNext() -> Job {
        if ringPosition >= ring.count { ringPosition = 0 }
        let l = ring[ringPosition]
        let job = l.take()
        if l.isEmpty {
            l.inRing = false
            ring.remove(at: ringPosition)
        } else {
            ringPosition += 1
        }
        queued -= 1
        return job
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
        while true {
            if waiting.load(ordering: .relaxed) == 0 && spinNanoseconds > 0 {
                let until = MonotonicClock.nanoseconds() + spinNanoseconds
                while waiting.load(ordering: .relaxed) == 0 && MonotonicClock.nanoseconds() < until { sched_yield() }
            }
            pthread_mutex_lock(mutex)
            while queued == 0 && !stopping { pthread_cond_wait(condition, mutex) }
            if queued == 0 && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            // Jobs are taken one at a time, round-robin across connections, while the batch is
            // open: it closes (and hands its replies over) when the queue is empty, after
            // `maximumBatch` jobs or after `batchNanoseconds`. A request that arrives behind a
            // long queue of slow jobs waits for the jobs running, not for a share of the queue.
            let started = MonotonicClock.nanoseconds()
            var taken = 0
            batch.open = true
            repeat {
                let job = takeNext()
                taken += 1
                running += 1
                waiting.store(queued, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
                job(batch)
                pthread_mutex_lock(mutex)
            } while queued > 0 && taken < Self.maximumBatch && MonotonicClock.nanoseconds() - started < Self.batchNanoseconds
            pthread_mutex_unlock(mutex)
            batch.context.finishBatch()
            batch.close()
            pthread_mutex_lock(mutex)
            running -= taken
            outstanding.store(queued + running, ordering: .relaxed)
            if queued + running == 0 { pthread_cond_broadcast(drained) }
            pthread_mutex_unlock(mutex)
        }
    }
}

/// What a worker of a `WorkerPool` keeps between the jobs of one batch.
protocol WorkerContext: AnyObject {
    init()
    /// Runs what the batch's jobs left (on the worker, before their replies are delivered).
    func finishBatch()
}
