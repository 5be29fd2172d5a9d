/// The re-ranking stage after retrieval (business logic, deduplication, diversity): from a list
/// of candidates, best first, choose the final k.
///
/// Greedy, one item per step. A candidate is admissible while each of its group values (a
/// category, or several for a list field) has fewer than `maxPerGroup` chosen items; candidates
/// without a value are never limited. Among the admissible, each step takes the one with the
/// highest maximal-marginal-relevance score (Carbonell & Goldstein, 1998)
///
///     λ · relevance(i) − (1 − λ) · max over chosen j of similarity(i, j)
///
/// (with no λ, relevance alone; the first step is always the most relevant admissible item);
/// ties go to the earlier candidate. The stage stops at k items or when none is admissible.
/// Cost: k × candidates similarity evaluations (the running maximum is kept per candidate).
public enum Reranker {
    /// - Parameters:
    ///   - relevance: each candidate's score (higher is better), candidates × 1.
    ///   - k: how many to choose.
    ///   - lambda: MMR trade-off in [0, 1] (1: relevance only, 0: diversity only), or nil.
    ///   - similarity: similarity of candidates i and j, same scale as relevance (read only with λ).
    ///   - groups: each candidate's group values (small integers), or nil.
    ///   - maxPerGroup: the limit per group value, or nil.
    /// - Returns: indices into the candidates, in the chosen order.
    public static func select(relevance: [Float], k: Int, lambda: Float?, similarity: (Int, Int) -> Float,
                              groups: [[Int]]?, maxPerGroup: Int?) -> [Int] {
        let n = relevance.count
        var chosen: [Int] = []
        chosen.reserveCapacity(min(k, n))
        var taken = [Bool](repeating: false, count: n)
        var maxSimilarity = [Float](repeating: -.infinity, count: n)
        var groupCounts: [Int: Int] = [:]
        func admissible(_ i: Int) -> Bool {
            guard let limit = maxPerGroup, let values = groups?[i] else { return true }
            return values.allSatisfy { groupCounts[$0, default: 0] < limit }
        }
        while chosen.count < k {
            var best = -1
            var bestScore = -Float.infinity
            for i in 0..<n where !taken[i] && admissible(i) {
                let score: Float
                if let lambda, !chosen.isEmpty {
                    score = lambda * relevance[i] - (1 - lambda) * maxSimilarity[i]
                } else {
                    score = relevance[i]
                }
                if best < 0 || score > bestScore { best = i; bestScore = score }
            }
            guard best >= 0 else { break }
            taken[best] = true
            chosen.append(best)
            for g in groups?[best] ?? [] { groupCounts[g, default: 0] += 1 }
            if lambda != nil {
                for i in 0..<n where !taken[i] { maxSimilarity[i] = max(maxSimilarity[i], similarity(i, best)) }
            }
        }
        return chosen
    }
}
