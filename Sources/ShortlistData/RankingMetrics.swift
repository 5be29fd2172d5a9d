import Foundation

/// Top-k ranking metrics averaged over users, with the LightGCN conventions
/// (`../shared/data/README.md`):
/// - Recall@K = hits in the top K / the user's number of relevant items;
/// - NDCG@K with binary relevance, the ideal DCG over min(K, relevant) positions;
/// - HR@K = 1 when the top K holds at least one relevant item.
/// Users without relevant items are not added.
public struct RankingMetrics: Sendable, Equatable {
    /// Cut-offs of Recall@K.
    public static let recallCutoffs = [10, 20, 50, 100]
    /// Cut-offs of NDCG@K.
    public static let ndcgCutoffs = [10, 20]
    /// Cut-offs of HR@K.
    public static let hitRateCutoffs = [10]
    /// The longest ranking any metric reads.
    public static let depth = 100

    private var recallSums = [Double](repeating: 0, count: recallCutoffs.count)
    private var ndcgSums = [Double](repeating: 0, count: ndcgCutoffs.count)
    private var hitSums = [Double](repeating: 0, count: hitRateCutoffs.count)
    /// Number of users added.
    public private(set) var userCount = 0

    public init() {}

    /// Adds one user: `ranked` holds the item rows in rank order (best first; up to `depth` are
    /// read; -1 ends a short list), `relevant` the user's relevant item rows, sorted ascending.
    public mutating func add(ranked: UnsafeBufferPointer<Int32>, relevant: ArraySlice<Int32>) {
        guard !relevant.isEmpty else { return }
        userCount += 1
        var hitsAt = [Int](repeating: 0, count: Self.depth + 1)   // hitsAt[k] = hits in the top k
        var dcgAt = [Double](repeating: 0, count: Self.depth + 1)
        var hits = 0, dcg = 0.0
        for k in 0..<Self.depth {
            if k < ranked.count, ranked[k] >= 0, Self.sortedContains(relevant, ranked[k]) {
                hits += 1
                dcg += 1 / log2(Double(k + 2))
            }
            hitsAt[k + 1] = hits
            dcgAt[k + 1] = dcg
        }
        let n = relevant.count
        for (j, k) in Self.recallCutoffs.enumerated() { recallSums[j] += Double(hitsAt[k]) / Double(n) }
        for (j, k) in Self.ndcgCutoffs.enumerated() {
            var ideal = 0.0
            for p in 0..<min(k, n) { ideal += 1 / log2(Double(p + 2)) }
            ndcgSums[j] += dcgAt[k] / ideal
        }
        for (j, k) in Self.hitRateCutoffs.enumerated() where hitsAt[k] > 0 { hitSums[j] += 1 }
    }

    /// Adds another accumulator's users (for per-thread partial sums).
    public mutating func merge(_ other: RankingMetrics) {
        for j in recallSums.indices { recallSums[j] += other.recallSums[j] }
        for j in ndcgSums.indices { ndcgSums[j] += other.ndcgSums[j] }
        for j in hitSums.indices { hitSums[j] += other.hitSums[j] }
        userCount += other.userCount
    }

    /// The averages, named `recall@10 … recall@100`, `ndcg@10`, `ndcg@20`, `hr@10`, in that order.
    public var values: [(name: String, value: Double)] {
        let n = Double(max(userCount, 1))
        return zip(Self.recallCutoffs, recallSums).map { ("recall@\($0)", $1 / n) }
            + zip(Self.ndcgCutoffs, ndcgSums).map { ("ndcg@\($0)", $1 / n) }
            + zip(Self.hitRateCutoffs, hitSums).map { ("hr@\($0)", $1 / n) }
    }

    /// The average named `name` (e.g. "recall@20"), if it is one of `values`.
    public func value(_ name: String) -> Double? { values.first { $0.name == name }?.value }

    private static func sortedContains(_ a: ArraySlice<Int32>, _ x: Int32) -> Bool {
        var lo = a.startIndex, hi = a.endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo < a.endIndex && a[lo] == x
    }
}
