import ShortlistCore
import Synchronization

/// Counts completed units from many threads and forwards the total to a progress handler.
final class ProgressCounter: Sendable {
    private let completed = Atomic<Int>(0)
    private let total: Int
    private let handler: ProgressHandler?

    init(total: Int, handler: ProgressHandler?) {
        self.total = total
        self.handler = handler
    }

    func add(_ n: Int) {
        let now = completed.wrappingAdd(n, ordering: .relaxed).newValue
        handler?(now, total)
    }
}
