import Synchronization

/// Connections that have not authenticated yet, oldest first, each with a way to close it.
/// Changed only on the server's one event loop; `count` may be read anywhere (`stats`).
final class PendingAuthentication: @unchecked Sendable {
    private var entries: [(id: ObjectIdentifier, evict: () -> Void)] = []
    private let size = Atomic<Int>(0)

    var count: Int { size.load(ordering: .relaxed) }

    func add(_ id: ObjectIdentifier, evict: @escaping () -> Void) {
        entries.append((id, evict))
        size.store(entries.count, ordering: .relaxed)
    }

    func remove(_ id: ObjectIdentifier) {
        guard let i = entries.firstIndex(where: { $0.id == id }) else { return }
        entries.remove(at: i)
        size.store(entries.count, ordering: .relaxed)
    }

    /// Closes the oldest unauthenticated connection; false when there is none.
    func evictOldest() -> Bool {
        guard !entries.isEmpty else { return false }
        let oldest = entries.removeFirst()
        size.store(entries.count, ordering: .relaxed)
        oldest.evict()
        return true
    }
}
