import Foundation
import ShortlistCore
import ShortlistIndex

/// Filtered search on an HNSW index at several shares of items allowed (a seeded random choice
/// per item, as a categorical field with that share would be): recall@k against exact search
/// over the allowed items, and single-query queries/s on one thread, for
/// - the filter-aware graph walk over a row bitmap made once per share
///   (`HNSWIndex.search(_:k:parameters:allowedRows:)`) at each ef;
/// - the same walk given the allowed ids, turned into rows for every query (what the server does
///   today, its filters being id sets) at the first ef;
/// - an exact scan of the allowed items with BLAS (a flat index of just their rows);
/// - the HNSW index's own exact scan of the allowed rows (`exactSearch(_:k:allowedRows:)`).
public struct FilteredBenchmark {
    public struct Row: Sendable {
        public var share: Double
        public var allowed: Int
        public var method: String
        public var ef: Int?
        public var recall: Double
        public var queriesPerSecond: Double
    }

    public let index: HNSWIndex
    /// The index's vectors by id (for the exact scan and the ground truth): count × dimension.
    public let base: VectorMatrix
    public let queries: VectorMatrix
    public let k: Int
    public let seed: UInt64

    public init(index: HNSWIndex, base: VectorMatrix, queries: VectorMatrix, k: Int, seed: UInt64) {
        self.index = index
        self.base = base
        self.queries = queries
        self.k = k
        self.seed = seed
    }

    public func run(shares: [Double], efs: [Int], progress: (String) -> Void = { _ in }) throws -> [Row] {
        var rows: [Row] = []
        var generator = SeededGenerator(seed: seed)
        for share in shares {
            var allowed: [UInt64] = []
            for id in 0..<UInt64(base.count) where generator.nextUnitDouble() < share { allowed.append(id) }
            guard !allowed.isEmpty else { continue }
            let allowedSet = Set(allowed)
            // The allowed items as a flat index: exact search over them is the ground truth and
            // the exact-scan method.
            let subset = try VectorMatrix(count: 0, dimension: base.dimension, capacity: allowed.count)
            for id in allowed { _ = try subset.append(UnsafeBufferPointer(start: base.row(Int(id)), count: base.dimension)) }
            let flat = try FlatIndex(metric: index.metric, vectors: subset, ids: allowed)
            let truth = try flat.search(queries, k: k, threads: Parallel.availableCores)
            let bitmap = index.rowBitmap(of: allowedSet)
            /// Times `search` over every query, single-threaded, and records its recall.
            func measure(_ method: String, ef: Int?, _ search: ([Float]) throws -> [Neighbor]) throws {
                let start = DispatchTime.now().uptimeNanoseconds
                var found: [[Neighbor]] = []
                found.reserveCapacity(queries.count)
                for q in 0..<queries.count { found.append(try search(queries.rowArray(q))) }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                rows.append(Row(share: share, allowed: allowed.count, method: method, ef: ef,
                                recall: recall(found, truth), queriesPerSecond: Double(queries.count) / seconds))
                progress(String(format: "%.1f%% allowed: %@%@ recall %.4f, %.0f q/s", share * 100, method,
                                ef.map { " ef \($0)" } ?? "", rows.last!.recall, rows.last!.queriesPerSecond))
            }
            try measure("exact scan", ef: nil) { try flat.search($0, k: k) }
            // The index's own exact scan of the allowed rows (what the server runs when few pass).
            try measure("row scan", ef: nil) { try index.exactSearch($0, k: k, allowedRows: bitmap) }
            for (e, ef) in efs.enumerated() {
                let parameters = SearchParameters(ef: ef)
                try measure("graph walk", ef: ef) { try index.search($0, k: k, parameters: parameters, allowedRows: bitmap) }
                if e == 0 {
                    try measure("graph walk from ids", ef: ef) { try index.search($0, k: k, parameters: parameters, allowedIds: allowedSet) }
                }
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
