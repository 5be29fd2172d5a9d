/// Recall of search results against exact ground truth.
public enum Recall {
    /// Mean over queries of |returned top-k ∩ true top-k| / k. `results` and `groundTruth` hold
    /// one row per query (ids, −1 for padding); both must have at least `k` columns.
    public static func at(_ k: Int, results: IntMatrix, groundTruth: IntMatrix) -> Double {
        precondition(k >= 1 && results.width >= k && groundTruth.width >= k && results.count <= groundTruth.count)
        guard results.count > 0 else { return 0 }
        var total = 0
        for q in 0..<results.count {
            let truth = Set(groundTruth[row: q].prefix(k))
            for id in results[row: q].prefix(k) where id >= 0 && truth.contains(id) { total += 1 }
        }
        return Double(total) / Double(results.count * k)
    }
}
