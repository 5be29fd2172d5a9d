import ShortlistCore

/// Exact ground truth for benchmarks: the true top-k rows of `base` for every query, ranked in
/// double precision and ties broken by the lower row, as ANN-benchmarks' files are.
///
/// Candidates come from the BLAS batch path (k + a margin, in float); each candidate's distance
/// is then recomputed in Double from the original vectors, so float rounding cannot reorder
/// near-ties.
public enum ExactSearch {
    /// Returns `queries.count × k` row numbers (as ids) and their distances.
    public static func groundTruth(base: VectorMatrix, queries: VectorMatrix, metric: Metric, k: Int,
                                   threads: Int, progress: ProgressHandler? = nil) throws -> SearchResults {
        try FlatIndex.validateK(k)
        guard queries.dimension == base.dimension else {
            throw VectorError.dimensionMismatch(expected: base.dimension, actual: queries.dimension)
        }
        let copy = try VectorMatrix(count: base.count, dimension: base.dimension)
        UnsafeMutableRawPointer(copy.baseAddress).copyMemory(from: base.baseAddress, byteCount: base.count * base.dimension * 4)
        let index = try FlatIndex(metric: metric, vectors: copy)
        let candidates = min(base.count, k + max(16, k / 2))
        let coarse = try index.searchRows(queries, k: candidates, threads: threads, mapIds: false, progress: progress)
        var out = SearchResults(queryCount: queries.count, k: k)
        let d = base.dimension
        let baseNorms: [Double] = metric == .cosine ? (0..<base.count).map { r in exactDot(base.row(r), base.row(r), d).squareRoot() } : []
        for q in 0..<queries.count {
            let qp = queries.row(q)
            let qNorm = metric == .cosine ? exactDot(qp, qp, d).squareRoot() : 1
            var scored: [(distance: Double, row: UInt64)] = []
            scored.reserveCapacity(candidates)
            for j in 0..<candidates {
                let row = coarse.ids[q * candidates + j]
                if row == SearchResults.noId { continue }
                let x = base.row(Int(row))
                let dist: Double
                switch metric {
                case .l2:
                    var s = 0.0
                    for i in 0..<d { let t = Double(qp[i]) - Double(x[i]); s += t * t }
                    dist = s
                case .ip: dist = -exactDot(qp, x, d)
                case .cosine: dist = -exactDot(qp, x, d) / (qNorm * baseNorms[Int(row)])
                }
                scored.append((dist, row))
            }
            scored.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.row < $1.row) }
            for (j, s) in scored.prefix(k).enumerated() {
                out.ids[q * k + j] = s.row
                out.distances[q * k + j] = Float(s.distance)
            }
        }
        return out
    }

    private static func exactDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Double {
        var s = 0.0
        for i in 0..<d { s += Double(a[i]) * Double(b[i]) }
        return s
    }
}
