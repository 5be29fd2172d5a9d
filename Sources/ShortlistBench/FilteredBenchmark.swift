import Foundation
import ShortlistCore
import ShortlistIndex

/// Filtered search at several shares of items allowed (a seeded random choice per item, as a
/// categorical field with that share would be): recall@k against exact search over the allowed
/// items, and single-query queries/s on one thread, for each search setting (HNSW `ef`, IVF
/// `nprobe`) and each way through the filter (`SearchParameters.FilterStrategy`): the index's
/// own choice, scoring every allowed row, and the index structure (graph walk, widened probing).
public struct FilteredBenchmark {
    public struct Row: Sendable {
        public var share: Double
        public var allowed: Int
        /// "planned" (the index's choice), "scan" or "index".
        public var method: String
        /// The search setting, e.g. "ef 64" or "nprobe 16".
        public var setting: String
        public var recall: Double
        public var queriesPerSecond: Double
    }

    public let index: any MutableVectorIndex
    /// The index's vectors by id (for the ground truth): count × dimension; id i is row i.
    public let base: VectorMatrix
    public let queries: VectorMatrix
    public let k: Int
    public let seed: UInt64

    public init(index: any MutableVectorIndex, base: VectorMatrix, queries: VectorMatrix, k: Int, seed: UInt64) {
        self.index = index
        self.base = base
        self.queries = queries
        self.k = k
        self.seed = seed
    }

    /// The items allowed at `share`: item i with probability `share`, from a generator seeded
    /// with `seed` and the share (so each share's set is reproducible on its own).
    public static func allowedItems(count: Int, share: Double, seed: UInt64) -> [UInt64] {
        var generator = SeededGenerator(seed: seed &+ UInt64(share * 1e6))
        return (0..<UInt64(count)).filter { _ in generator.nextUnitDouble() < share }
    }

    /// `settings`: the knobs to sweep (ef for HNSW, nprobe and rerank for IVF), each with a label.
    public func run(shares: [Double], settings: [(label: String, parameters: SearchParameters)],
                    progress: (String) -> Void = { _ in }) throws -> [Row] {
        var rows: [Row] = []
        for share in shares {
            let allowed = Self.allowedItems(count: base.count, share: share, seed: seed)
            guard !allowed.isEmpty else { continue }
            // The allowed items as a flat index: exact search over them is the ground truth.
            let subset = try VectorMatrix(count: 0, dimension: base.dimension, capacity: allowed.count)
            for id in allowed { _ = try subset.append(UnsafeBufferPointer(start: base.row(Int(id)), count: base.dimension)) }
            let truth = try FlatIndex(metric: index.metric, vectors: subset, ids: allowed).search(queries, k: k, threads: Parallel.availableCores)
            let bitmap = index.rowBitmap(of: allowed)
            /// Times `parameters` over every query, single-threaded, and records its recall.
            func measure(_ method: String, _ setting: String, _ parameters: SearchParameters) throws {
                var p = parameters
                p.allowedRows = bitmap
                let start = DispatchTime.now().uptimeNanoseconds
                var found: [[Neighbor]] = []
                found.reserveCapacity(queries.count)
                for q in 0..<queries.count { found.append(try index.search(queries.rowArray(q), k: k, parameters: p)) }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                rows.append(Row(share: share, allowed: allowed.count, method: method, setting: setting,
                                recall: recall(found, truth), queriesPerSecond: Double(queries.count) / seconds))
                progress(String(format: "%g%% allowed: %@ %@ recall %.4f, %.0f q/s", share * 100, method, setting,
                                rows.last!.recall, rows.last!.queriesPerSecond))
            }
            try measure("scan", "", SearchParameters(filterStrategy: .scan))
            for (label, parameters) in settings {
                try measure("planned", label, parameters)
                var structured = parameters
                structured.filterStrategy = .index
                try measure("index", label, structured)
            }
        }
        return rows
    }

    /// Recall of `found` against the exact `truth` (padding ids left out).
    private func recall(_ found: [[Neighbor]], _ truth: SearchResults) -> Double {
        var hits = 0, total = 0
        for q in found.indices {
            let want = Set(truth[q].map(\.id).filter { $0 != SearchResults.noId })
            hits += Set(found[q].map(\.id)).intersection(want).count
            total += want.count
        }
        return Double(hits) / Double(max(total, 1))
    }
}
