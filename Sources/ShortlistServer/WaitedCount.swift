import Synchronization

/// A count that workers bring down and the event loop waits on: the loop asks `isBelow(limit)`,
/// and when it is not, the worker whose `subtract` brings it below is told to wake the loop
/// (exactly one wake-up per wait, none lost: each side writes, then reads the other's flag).
final class WaitedCount: Sendable {
    private let value = Atomic<Int>(0)
    private let waiting = Atomic<Bool>(false)

    func add(_ n: Int) {
        if n != 0 { value.add(n, ordering: .sequentiallyConsistent) }
    }

    /// True when the count is below `limit`; otherwise the next `subtract` that brings it below
    /// returns true.
    func isBelow(_ limit: Int) -> Bool {
        if value.load(ordering: .sequentiallyConsistent) < limit { return true }
        waiting.store(true, ordering: .sequentiallyConsistent)
        if value.load(ordering: .sequentiallyConsistent) < limit {
            waiting.store(false, ordering: .sequentiallyConsistent)
            return true
        }
        return false
    }

    /// Subtracts `n`; true when the caller must wake the waiting event loop.
    func subtract(_ n: Int, limit: Int) -> Bool {
        guard n != 0 else { return false }
        return value.subtract(n, ordering: .sequentiallyConsistent).newValue < limit
            && waiting.exchange(false, ordering: .sequentiallyConsistent)
    }
}
