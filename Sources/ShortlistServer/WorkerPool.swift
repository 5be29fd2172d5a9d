import Foundation

/// A fixed set of threads (one per core by default) that run request jobs in arrival order from
/// a bounded queue, so CPU work never runs on the event loop (PERFORMANCE.md §6).
final class WorkerPool: @unchecked Sendable {
    typealias Job = () -> Void

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
    private var threads: [Thread] = []

    init(threads: Int, capacity: Int) {
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
            self.threads.append(t)
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

    /// Queues `job`; false when the queue is full or the pool has stopped.
    func submit(_ job: @escaping Job) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping, queued < capacity else { return false }
        queue[(head + queued) % capacity] = job
        queued += 1
        pthread_cond_signal(condition)
        return true
    }

    /// Jobs waiting plus jobs running.
    var pending: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return queued + running
    }

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
        while true {
            pthread_mutex_lock(mutex)
            while queued == 0 && !stopping { pthread_cond_wait(condition, mutex) }
            if queued == 0 && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            let job = queue[head]!
            queue[head] = nil
            head = (head + 1) % capacity
            queued -= 1
            running += 1
            pthread_mutex_unlock(mutex)
            job()
            pthread_mutex_lock(mutex)
            running -= 1
            if queued + running == 0 { pthread_cond_broadcast(drained) }
            pthread_mutex_unlock(mutex)
        }
    }
}
