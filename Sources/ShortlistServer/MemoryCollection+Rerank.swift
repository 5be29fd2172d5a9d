import ShortlistCore
import ShortlistIndex
import ShortlistProtocol

extension MemoryCollection {
    /// Hits re-ranked (`Reranker`): `rerank.candidates` (at least k; default 100 with diversity
    /// or a group limit, else k) are retrieved with `filter`, their scores raised or lowered by
    /// the boosts of their payload values, then chosen by MMR over the stored vectors (similarity
    /// in the collection's metric) and the group limit. Scores in the reply are the boosted ones.
    func searchReranked(_ query: [Float], k: Int, parameters: SearchParameters, filter: Filter, withPayload: Bool,
                        rerank: QueryOptions.Rerank, maximumCandidates: Int) throws -> [Hit] {
        try lock.reading {
            let pool = min(maximumCandidates, max(k, rerank.candidates ?? (rerank.lambda != nil || rerank.groupBy != nil ? 100 : k)))
            let found = try filteredSearch(query, k: pool, parameters: parameters, filter: filter)
            var relevance = found.map { index.metric.score(fromDistance: $0.distance) }
            for (i, n) in found.enumerated() {
                for (field, deltas) in rerank.boosts {
                    for v in payloads.values(field, of: n.id) { relevance[i] += deltas[v] ?? 0 }
                }
            }
            var groups: [[Int]]?
            if let field = rerank.groupBy {
                var code: [String: Int] = [:]
                groups = found.map { n in
                    Array(Set(payloads.values(field, of: n.id))).map { v in
                        if let c = code[v] { return c }
                        code[v] = code.count
                        return code.count - 1
                    }
                }
            }
            var vectors: [[Float]] = []
            if rerank.lambda != nil {
                vectors = found.map { index.storedVector(id: $0.id) ?? [] }
                if index.metric.normalizesVectors {
                    // Stored vectors are unit already; reconstructed ones (PQ, fp16) nearly.
                    for i in vectors.indices where !vectors[i].isEmpty {
                        try? vectors[i].withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: $0.count) }
                    }
                }
            }
            let metric = index.metric, d = index.dimension
            let order = Reranker.select(relevance: relevance, k: k, lambda: rerank.lambda, similarity: { i, j in
                guard vectors[i].count == d, vectors[j].count == d else { return 0 }
                return vectors[i].withUnsafeBufferPointer { a in
                    vectors[j].withUnsafeBufferPointer { b in
                        metric.score(fromDistance: VectorMath.distance(metric, a.baseAddress!, b.baseAddress!, dimension: d))
                    }
                }
            }, groups: groups, maxPerGroup: rerank.maxPerGroup)
            return order.map { i in Hit(id: found[i].id, score: relevance[i], payload: withPayload ? payloads[found[i].id] : nil) }
        }
    }
}
