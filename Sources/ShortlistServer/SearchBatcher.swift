import ShortlistIndex
import ShortlistProtocol

/// Micro-batching: the plain searches among the jobs one worker took together, run as batches.
///
/// A worker takes its share of the queue at once; searches in it on the same flat or IVF
/// collection with the same `k`, knobs and payload choice go through the index's batch search
/// (one matrix product against a flat index instead of one pass over every vector per query;
/// shared coarse-quantizer products for IVF). Each request still gets its own reply and
/// `took_us`. Filtered searches and HNSW collections (whose batch search is a loop anyway) run
/// one at a time. Used on one worker thread.
final class SearchBatcher: WorkerContext {
    /// One gathered search and where its hits go.
    struct Pending {
        let collection: ServedCollection
        let vector: [Float]
        let k: Int
        let parameters: SearchParameters
        let withPayload: Bool
        let complete: (Result<[Hit], Error>) -> Void
    }

    private var pending: [Pending] = []

    init() {}

    func finishBatch() { run() }

    func add(_ search: Pending) { pending.append(search) }

    /// Runs everything gathered, in groups of compatible searches; a group whose batch fails
    /// (one bad vector) runs one by one, so each request gets its own answer or error.
    func run() {
        guard !pending.isEmpty else { return }
        let searches = pending
        pending.removeAll(keepingCapacity: true)
        var done = [Bool](repeating: false, count: searches.count)
        for first in searches.indices where !done[first] {
            let a = searches[first]
            var group = [first]
            // A vector of the wrong length runs alone (its search names the error).
            if a.vector.count == a.collection.dimension {
                for j in (first + 1)..<searches.count where !done[j] {
                    let b = searches[j]
                    if b.collection === a.collection && b.k == a.k && b.parameters == a.parameters && b.withPayload == a.withPayload
                        && b.vector.count == a.vector.count {
                        group.append(j)
                    }
                }
            }
            for j in group { done[j] = true }
            if group.count > 1, let lists = try? a.collection.searchBatch(group.flatMap { searches[$0].vector }, count: group.count, k: a.k,
                                                                          parameters: a.parameters, filter: .init(), withPayload: a.withPayload) {
                for (j, hits) in zip(group, lists) { searches[j].complete(.success(hits)) }
                continue
            }
            for j in group {
                let s = searches[j]
                s.complete(Result { try s.collection.search(s.vector, k: s.k, parameters: s.parameters, filter: .init(), withPayload: s.withPayload) })
            }
        }
    }
}

/// The server's worker pool: each worker gathers plain searches in a `SearchBatcher`.
typealias RequestPool = WorkerPool<SearchBatcher>
