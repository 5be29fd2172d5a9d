import CShortlistKernels
import Foundation
import ShortlistCore
import Synchronization

/// The search entry points: preparing a query, single and batch searches, filtered and exact ones.
extension HNSWIndex {
    /// Writes `query` into `scratch.query` in stored form; validates shape and values.
    func prepareQuery(_ query: UnsafeBufferPointer<Float>, into scratch: HNSWScratch, row: Int = 0) throws {
        guard query.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: query.count) }
        try VectorMath.validateFinite(query, row: row)
        scratch.query.update(from: query.baseAddress!, count: dimension)
        if metric == .cosine { try VectorMath.normalize(scratch.query, dimension: dimension, row: row) }
        if metric == .ip { scratch.query[dimension] = 0 }
        if store.scale != 1 { for i in 0..<storedDimension { scratch.query[i] *= store.scale } }
        scratch.walksCodes = store.codeFittedRows > 0
        if scratch.walksCodes {
            (scratch.codeBase, scratch.codeFactor) = store.prepareCodeQuery(scratch.query, l2: metric != .cosine, into: scratch.codeQuery)
        }
    }

    /// Validates `k` and the knobs, and returns the `ef` to search with.
    func effectiveEf(k: Int, parameters: SearchParameters) throws -> Int {
        try FlatIndex.validateK(k)
        try parameters.validate()
        return max(parameters.ef ?? Self.defaultEf, k)
    }

    /// The best `k` live items for `query`. With `parameters.allowedRows`, only those rows: all
    /// of them scored when that is cheaper (`scansFilter`), otherwise the
    /// filter-aware walk (`search(_:k:parameters:allowedRows:)`), which falls back to scoring them
    /// all when it finds fewer than k.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = .default) throws -> [Neighbor] {
        let ef = try effectiveEf(k: k, parameters: parameters)
        if let allowed = parameters.allowedRows {
            let rows = allowed.covering(rows: self.rows)
            let scan = parameters.filterStrategy.map { $0 == .scan } ?? scansFilter(allowed: rows.count, ef: ef)
            if scan { return try exactSearch(query, k: k, allowedRows: rows) }
            let found = try search(query, k: k, parameters: parameters.knobs, allowedRows: rows)
            if found.count >= k { return found }
            return try exactSearch(query, k: k, allowedRows: rows)
        }
        return try scratchPool.with { scratch in
            try query.withUnsafeBufferPointer { try prepareQuery($0, into: scratch) }
            return searchPrepared(scratch, k: k, ef: ef)
        }
    }

    public func search(_ queries: VectorMatrix, k: Int, parameters: SearchParameters = .default, threads: Int = 1) throws -> SearchResults {
        let ef = try effectiveEf(k: k, parameters: parameters)
        if parameters.allowedRows != nil { return try searchEach(queries, k: k, parameters: parameters, threads: threads) }
        guard queries.dimension == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: queries.dimension) }
        try queries.validateFinite()
        var results = SearchResults(queryCount: queries.count, k: k)
        let chunk = 32
        let failure = Mutex<Error?>(nil)
        results.ids.withUnsafeMutableBufferPointer { idsOut in
            results.distances.withUnsafeMutableBufferPointer { distOut in
                let out = ResultPointers(ids: idsOut.baseAddress!, distances: distOut.baseAddress!)
                Parallel.forEach(chunkCount: (queries.count + chunk - 1) / chunk, threads: threads) { c in
                    self.scratchPool.with { scratch in
                        for q in c * chunk..<min(queries.count, (c + 1) * chunk) {
                            do {
                                try self.prepareQuery(UnsafeBufferPointer(start: queries.row(q), count: self.dimension), into: scratch, row: q)
                            } catch {
                                failure.withLock { $0 = $0 ?? error }
                                return
                            }
                            for (j, hit) in self.searchPrepared(scratch, k: k, ef: ef).enumerated() {
                                out.ids[q * k + j] = hit.id
                                out.distances[q * k + j] = hit.distance
                            }
                        }
                    }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results
    }

    /// Whether a search with `allowed` rows allowed scores them all rather than walking the
    /// graph. Both cost about one distance per row they touch: the scan touches `allowed` rows;
    /// the walk expands about ef ÷ share nodes before it has ef allowed ones, and scores the new
    /// ones among each node's 2m neighbours — about m of them, by the measured crossings. So the
    /// scan is chosen when allowed ≤ m · ef ÷ share. The crossing moves with the catalogue's size
    /// (unlike a fixed share): at 10% allowed it falls between ef 32 and 64 on WordNet-MiniLM
    /// (107k × 384) and near ef 64 on Fashion-MNIST (60k × 784) for the one-hop walk, as
    /// measured (bench/README.md, "Filtered search"). The two-hop walk used below a quarter
    /// allowed is cheaper than this model says but loses recall as the share falls, so the rule
    /// leans to the scan, which is exact.
    func scansFilter(allowed: Int, ef: Int) -> Bool {
        let share = Double(allowed) / Double(max(rows, 1))
        return Double(allowed) * share <= Double(m * ef)
    }

    /// The best `k` of the live rows set in `allowedRows` by a filter-aware walk of the graph
    /// that keeps going until `ef` allowed rows are found: at a quarter allowed or more the beam
    /// goes through rows outside the set (as through deleted ones, scoring but never returning
    /// them); below, it goes two hops through them and scores only allowed rows (ACORN-1 style,
    /// `searchLayerFiltered`). When few pass, scoring
    /// them all (`exactSearch`) is cheaper and exact: `search` with `parameters.allowedRows`
    /// chooses. Returns fewer than k only when the walk cannot reach k allowed rows.
    public func search(_ query: [Float], k: Int, parameters: SearchParameters = .default, allowedRows: RowBitmap) throws -> [Neighbor] {
        let ef = try effectiveEf(k: k, parameters: parameters)
        guard allowedRows.rowCapacity >= rows else { throw IndexError.invalidParameter(name: "allowedRows", value: allowedRows.rowCapacity, allowed: rows...Int.max) }
        return try allowedRows.words.withUnsafeBufferPointer { bits in
            try scratchPool.with { scratch in
                try query.withUnsafeBufferPointer { try prepareQuery($0, into: scratch) }
                guard allowedRows.count > 0 else { return [] }
                let twoHop = Double(allowedRows.count) < Double(rows) * Self.twoHopShare
                return searchPrepared(scratch, k: min(k, allowedRows.count), ef: ef, allowed: bits.baseAddress!, twoHop: twoHop)
            }
        }
    }

    /// Searches with the query already in `scratch.query`; returns up to k live neighbours with
    /// external ids (only rows set in `allowed`, when given).
    /// Below this share allowed the filtered walk goes two hops through failing rows and scores
    /// only allowed ones (`searchLayerFiltered`); above it, it walks through failing rows scoring
    /// them (a quarter of a node's neighbours or more are expected to pass, enough to keep the
    /// walk moving). Measured back to back at recall ≥ 0.95: the two-hop walk's queries/s are
    /// 1.3×, 1.75× and 3.0× the one-hop walk's at 30%, 20% and 10% allowed on Fashion-MNIST; on
    /// WordNet-MiniLM the two are even at 20%, and the one-hop walk is 1.2× and 1.3× faster at
    /// 30% and 50% (bench/README.md, "Filtered search").
    static let twoHopShare = 0.25

    func searchPrepared(_ scratch: HNSWScratch, k: Int, ef: Int, allowed: UnsafePointer<UInt64>? = nil, twoHop: Bool = false) -> [Neighbor] {
        guard entryPoint >= 0, count > 0 else { return [] }
        let want = min(k, count)
        var ef = ef
        while true {
            let entry = greedyDescent(scratch.query, from: Int(entryPoint), fromLevel: maxLevel, toLevel: 1, locking: false,
                                      scratch: scratch)
            if let allowed, twoHop {
                searchLayerFiltered(scratch.query, entry: entry.node, entryDistance: entry.distance, ef: ef,
                                    scratch: scratch, skipDeleted: deletedCount > 0, allowed: allowed)
            } else {
                searchLayer(scratch.query, entry: entry.node, entryDistance: entry.distance, ef: ef, level: 0,
                            scratch: scratch, locking: false, skipDeleted: deletedCount > 0, allowed: allowed)
            }
            // Many deletions near the query can leave fewer than k live results: widen the beam.
            if scratch.results.count >= want || ef >= rows { break }
            ef = min(rows, ef * 2)
        }
        if scratch.walksCodes { rerankResults(scratch, k: k) }
        return collectResults(scratch, k: k)
    }

    /// The exact best `k` among the live rows set in `allowedRows`: every one of them is scored
    /// (through the same row kernels as the walk), no graph. Cheaper than the walk when few
    /// pass (a tenth of the items or fewer on WordNet-MiniLM and Fashion-MNIST: bench/README.md).
    public func exactSearch(_ query: [Float], k: Int, allowedRows: RowBitmap) throws -> [Neighbor] {
        try FlatIndex.validateK(k)
        guard allowedRows.rowCapacity >= rows else { throw IndexError.invalidParameter(name: "allowedRows", value: allowedRows.rowCapacity, allowed: rows...Int.max) }
        return try scratchPool.with { scratch in
            try query.withUnsafeBufferPointer { try prepareQuery($0, into: scratch) }
            _ = scratch.beginSearch(rows: rows)
            let tombstones = self.tombstones
            let skipDeleted = deletedCount > 0
            for (w, word) in allowedRows.words.enumerated() where word != 0 {
                var bits = word
                while bits != 0 {
                    let row = w * 64 + bits.trailingZeroBitCount
                    bits &= bits - 1
                    guard row < rows, !(skipDeleted && tombstones[row] != 0) else { continue }
                    let d = distance(scratch.query, row)
                    if scratch.results.count < k {
                        scratch.results.push(-d, UInt32(row))
                    } else if d < -scratch.results.topDistance {
                        scratch.results.pop()
                        scratch.results.push(-d, UInt32(row))
                    }
                }
            }
            return collectResults(scratch, k: k)
        }
    }

    /// `scratch.results` (negated distances, worst on top) as neighbours, best first, with
    /// external ids and distances in the metric's own terms; empties the heap.
    private func collectResults(_ scratch: HNSWScratch, k: Int) -> [Neighbor] {
        var found: [Neighbor] = []
        found.reserveCapacity(scratch.results.count)
        while scratch.results.count > 0 {
            found.append(Neighbor(id: UInt64(scratch.results.topNode), distance: -scratch.results.topDistance))
            scratch.results.pop()
        }
        found.reverse()
        if found.count > k { found.removeLast(found.count - k) }
        // Graph distances are scaled by scale² for float16 rows; inner products are recomputed
        // over the original components (without the reduction's extra one).
        let unscale = 1 / (store.scale * store.scale)
        for i in found.indices {
            let row = Int(found[i].id)
            switch metric {
            case .ip: found[i].distance = -store.innerProduct(scratch.query, row, components: dimension) * unscale
            case .l2: found[i].distance *= unscale
            case .cosine: break
            }
            found[i].id = idMap.id(ofRow: row)
        }
        if metric == .ip { found.sort() }
        return found
    }
}
