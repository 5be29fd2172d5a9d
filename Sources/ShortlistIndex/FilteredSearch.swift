import Foundation
import ShortlistCore
import Synchronization

/// The pieces every index kind shares to honour `SearchParameters.allowedRows`.
extension VectorIndex {
    /// A batch search as one filtered single search per query (up to `threads` at a time): what
    /// a batch with `allowedRows` runs, since each query plans its own way through the filter.
    func searchEach(_ queries: VectorMatrix, k: Int, parameters: SearchParameters, threads: Int) throws -> SearchResults {
        try FlatIndex.validateK(k)
        guard queries.dimension == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: queries.dimension) }
        try queries.validateFinite()
        var results = SearchResults(queryCount: queries.count, k: k)
        let failure = Mutex<Error?>(nil)
        results.ids.withUnsafeMutableBufferPointer { idsOut in
            results.distances.withUnsafeMutableBufferPointer { distOut in
                let out = ResultPointers(ids: idsOut.baseAddress!, distances: distOut.baseAddress!)
                Parallel.forEach(chunkCount: queries.count, threads: threads) { q in
                    do {
                        for (j, hit) in try self.search(queries.rowArray(q), k: k, parameters: parameters).enumerated() {
                            out.ids[q * k + j] = hit.id
                            out.distances[q * k + j] = hit.distance
                        }
                    } catch {
                        failure.withLock { $0 = $0 ?? error }
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results
    }
}

extension RowBitmap {
    /// This bitmap with room for `rows` rows (the rows added are not allowed), so a search can
    /// test any row of the index without a bounds check.
    func covering(rows: Int) -> RowBitmap {
        guard rowCapacity < rows else { return self }
        var grown = RowBitmap(rows: rows)
        grown.formUnion(self)
        return grown
    }
}
