import Foundation
import ShortlistCore
import ShortlistIndex
import Synchronization

/// Compaction: rebuilding an index whose rows are largely deleted.
extension MemoryCollection {
    private static let compactionQueue = DispatchQueue(label: "shortlist.compaction", qos: .utility)

    /// What compaction has done (for `info` and `stats`).
    struct CompactionRecord: Sendable {
        var completed = 0
        var running = false
        var lastError: String?
        var lastMilliseconds = 0.0
    }
    var compactions: CompactionRecord { compactionRecord.withLock { $0 } }

    /// Deleted rows in the index.
    var deadRows: Int { lock.reading { index.deadRows } }

    /// Starts a compaction when the index has passed both thresholds. Call under the write lock.
    func compactIfDue() {
        guard journal == nil else { return }
        let dead = index.deadRows
        guard dead >= compactionMinimumDeadRows, Double(dead) >= compactionDeadFraction * Double(index.rowIds.count) else { return }
        let started = MonotonicClock.nanoseconds()
        switch index {
        case let ivf as IVFPQIndex:
            do {
                index = try ivf.compacted()
                compactionEnded(started: started, error: nil)
            } catch {
                compactionEnded(started: started, error: error)
            }
        case let hnsw as HNSWIndex:
            guard let (vectors, ids) = try? hnsw.liveVectors() else { return }
            journal = []
            compactionRecord.withLock { $0.running = true }
            Self.compactionQueue.async { [self] in
                beforeRebuild?()
                let rebuilt = Result { try HNSWIndex(metric: hnsw.metric, vectors: vectors, ids: ids, configuration: hnsw.configuration, threads: 1) }
                lock.writing {
                    defer { journal = nil }
                    do {
                        let fresh = try rebuilt.get()
                        for record in journal ?? [] { try record.apply(to: fresh) }
                        index = fresh
                        compactionEnded(started: started, error: nil)
                    } catch {
                        compactionEnded(started: started, error: error)
                    }
                }
            }
        default:
            break
        }
    }

    /// Records a compaction's end for `stats`; a failure (the index is then unchanged) is also reported.
    private func compactionEnded(started: UInt64, error: Error?) {
        compactionRecord.withLock {
            $0.running = false
            if let error {
                $0.lastError = "\(error)"
            } else {
                $0.completed += 1
                $0.lastError = nil
                $0.lastMilliseconds = Double(MonotonicClock.nanoseconds() - started) / 1e6
            }
        }
        if let error { report("collection '\(name)': compaction failed (the index is unchanged): \(error)") }
    }
}
