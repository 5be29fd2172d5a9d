import ShortlistModel
import ShortlistCore
import ShortlistData

/// Full-ranking evaluation of user and item embeddings (score = dot product): for every user with
/// at least one target item, all items are scored through `sgemm` in blocks of users, the user's
/// masked items (train, or train + valid) are removed, and the top `RankingMetrics.depth` are
/// compared with the targets.
public enum RankingEvaluator {
    /// - Parameters:
    ///   - users: user rows × dimension; items: item rows × dimension.
    ///   - target: the relevant items of each user row (valid or test split).
    ///   - mask: items never ranked for a user (already seen), or nil.
    ///   - block: users scored per `sgemm` (block × item count floats of scratch).
    public static func evaluate(users: VectorMatrix, items: VectorMatrix, target: InteractionMatrix,
                                mask: InteractionMatrix?, threads: Int, block: Int = 256) -> RankingMetrics {
        precondition(users.dimension == items.dimension && users.count == target.rowCount)
        let d = users.dimension, n = items.count
        let evaluated = (0..<target.rowCount).filter { target.degree(of: $0) > 0 }
        let depth = min(RankingMetrics.depth, n)
        let scores = AlignedMemory.allocate(Float.self, count: block * n, repeating: 0)
        let queries = AlignedMemory.allocate(Float.self, count: block * d, repeating: 0)
        defer { AlignedMemory.free(scores); AlignedMemory.free(queries) }
        let heaps = TopKHeaps(heapCount: block, k: depth)
        var total = RankingMetrics()
        var start = 0
        while start < evaluated.count {
            let rows = Array(evaluated[start..<min(evaluated.count, start + block)])
            for (j, u) in rows.enumerated() { (queries + j * d).update(from: users.row(u), count: d) }
            ParallelGemm.gemm(transposeA: false, transposeB: true, m: rows.count, n: n, k: d, a: queries, lda: d,
                              b: items.baseAddress, ldb: d, c: scores, ldc: n, threads: threads)
            heaps.reset()
            let chunk = 16
            let chunkCount = (rows.count + chunk - 1) / chunk
            var partial = [RankingMetrics](repeating: RankingMetrics(), count: chunkCount)
            partial.withUnsafeMutableBufferPointer { partialBuffer in
                let partials = SharedPointer(partialBuffer.baseAddress!)
                let scoreRows = SharedPointer(scores)
                Parallel.forEach(chunkCount: chunkCount, threads: threads) { k in
                    var metrics = RankingMetrics()
                    var ranked = [Int32](repeating: -1, count: depth)
                    for j in (k * chunk)..<min(rows.count, (k + 1) * chunk) {
                        let u = rows[j], row = scoreRows.pointer + j * n
                        if let mask { for i in mask.items(of: u) { row[Int(i)] = -.infinity } }
                        for i in 0..<n {
                            let distance = -row[i]
                            if distance < heaps.threshold(j) { heaps.push(j, distance: distance, id: UInt64(i)) }
                        }
                        let sorted = heaps.sorted(j)
                        for p in 0..<depth { ranked[p] = p < sorted.count && sorted[p].distance.isFinite ? Int32(sorted[p].id) : -1 }
                        ranked.withUnsafeBufferPointer { metrics.add(ranked: $0, relevant: target.items(of: u)) }
                    }
                    partials.pointer[k] = metrics
                }
            }
            for m in partial { total.merge(m) }
            start += block
        }
        return total
    }
}
