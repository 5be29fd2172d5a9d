import CShortlistKernels
import Foundation
import ShortlistCore

/// Searching: the coarse probe, the list scans (8-bit tables and 4-bit fast scan), filters and re-ranking.
extension IVFPQIndex {

    public func search(_ query: [Float], k: Int, parameters: SearchParameters = .default) throws -> [Neighbor] {
        try FlatIndex.validateK(k)
        try parameters.validate()
        guard query.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: query.count) }
        var q = query
        try q.withUnsafeMutableBufferPointer { p in
            try VectorMath.validateFinite(UnsafeBufferPointer(p))
            if metric.normalizesVectors { try VectorMath.normalize(p.baseAddress!, dimension: dimension) }
        }
        if let rotation {
            let raw = q
            raw.withUnsafeBufferPointer { src in q.withUnsafeMutableBufferPointer { rotation.apply(src.baseAddress!, into: $0.baseAddress!) } }
        }
        return q.withUnsafeBufferPointer { searchPrepared($0.baseAddress!, k: k, parameters: parameters) }
    }

    /// With `Refine`, a filtered search scores the allowed rows exactly when
    /// `allowed × dimension ≤ filterExactFactor × codes the probes would scan × m`: one float
    /// multiply-add per component against one table lookup per sub-quantizer, measured on
    /// WordNet-MiniLM and Fashion-MNIST (bench/README.md, "Filtered search").
    static let filterExactFactor = 4.0

    public func search(_ queries: VectorMatrix, k: Int, parameters: SearchParameters = .default, threads: Int = 1) throws -> SearchResults {
        try FlatIndex.validateK(k)
        try parameters.validate()
        guard queries.dimension == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: queries.dimension) }
        try queries.validateFinite()
        if parameters.allowedRows != nil { return try searchEach(queries, k: k, parameters: parameters, threads: threads) }
        let normalized = try VectorMatrix(dimension: dimension, values: queries.flatArray())
        if metric.normalizesVectors { try normalized.normalizeRows() }
        let prepared = rotation?.apply(normalized) ?? normalized
        var results = SearchResults(queryCount: queries.count, k: k)
        results.ids.withUnsafeMutableBufferPointer { idsOut in
            results.distances.withUnsafeMutableBufferPointer { distOut in
                let out = ResultPointers(ids: idsOut.baseAddress!, distances: distOut.baseAddress!)
                let block = Self.coarseBlock
                Parallel.forEach(chunkCount: (queries.count + block - 1) / block, threads: threads) { c in
                    let first = c * block, n = min(block, queries.count - first)
                    let probes = self.nearestLists(prepared, first: first, count: n, parameters: parameters)
                    for i in 0..<n {
                        let q = first + i
                        let hits = self.searchPrepared(prepared.row(q), k: k, parameters: parameters, probes: probes[i])
                        for (j, hit) in hits.enumerated() {
                            out.ids[q * k + j] = hit.id
                            out.distances[q * k + j] = hit.distance
                        }
                    }
                }
            }
        }
        return results
    }

    /// Searches with a validated, stored-form (normalised for cosine, rotated with OPQ) query.
    /// `probes`: the lists to scan with their coarse distances, when already found (batches).
    /// With `parameters.allowedRows`, only those rows: see `filteredCandidates`.
    func searchPrepared(_ q: UnsafePointer<Float>, k: Int, parameters: SearchParameters, probes given: [Neighbor]? = nil) -> [Neighbor] {
        guard count > 0 else { return [] }
        let rerank = vectors == nil ? 1 : (parameters.rerank ?? Self.defaultRerank)
        let keep = min(k * rerank, count)
        let heap = TopKHeaps(heapCount: 1, k: max(keep, 1))
        if let allowed = parameters.allowedRows {
            let rows = allowed.covering(rows: self.rows)
            guard rows.count > 0 else { return [] }
            if let exact = filteredCandidates(q, k: k, keep: keep, parameters: parameters, allowed: rows, into: heap) { return exact }
        } else {
            scan(q, probes: given ?? nearestLists(q, nprobe: probeCount(parameters), ef: parameters.ef), allowed: nil, into: heap)
        }
        var found = heap.sorted(0)
        if let vectors {
            for i in found.indices { found[i].distance = VectorMath.distance(metric, q, vectors.row(Int(found[i].id)), dimension: dimension) }
            found.sort()
        }
        if found.count > k { found.removeLast(found.count - k) }
        for i in found.indices { found[i].id = idMap.id(ofRow: Int(found[i].id)) }
        return found
    }

    /// Fills `heap` with the best `keep` allowed rows by approximate distance, or returns the
    /// final exact result when scoring the allowed rows exactly is cheaper (with `Refine` only).
    /// The probes are the nprobe ÷ (share allowed) nearest lists, so about as many allowed codes
    /// are scanned as an unfiltered search scans codes; when fewer than `keep` allowed rows turn
    /// up, twice as many lists, and so on up to every list: never fewer than k hits while k
    /// allowed rows are live.
    private func filteredCandidates(_ q: UnsafePointer<Float>, k: Int, keep: Int, parameters: SearchParameters, allowed bitmap: RowBitmap,
                                    into heap: TopKHeaps) -> [Neighbor]? {
        let nlist = configuration.nlist, allowed = bitmap.count
        let share = Double(allowed) / Double(max(rows, 1))
        var nprobe = min(nlist, Int((Double(probeCount(parameters)) / share).rounded(.up)))
        if parameters.filterStrategy == .scan { nprobe = nlist }
        if let vectors {
            let codes = Double(rows) * Double(nprobe) / Double(nlist)
            if parameters.filterStrategy.map({ $0 == .scan })
                ?? (Double(allowed * dimension) <= Self.filterExactFactor * codes * Double(pq.m)) {
                let exact = TopKHeaps(heapCount: 1, k: min(k, allowed))
                bitmap.forEachRow { row in
                    guard row < rows, deletedCount == 0 || tombstones[row] == 0 else { return }
                    let d = VectorMath.distance(metric, q, vectors.row(row), dimension: dimension)
                    if d < exact.threshold(0) { exact.push(0, distance: d, id: UInt64(row)) }
                }
                return exact.sorted(0).map { Neighbor(id: idMap.id(ofRow: Int($0.id)), distance: $0.distance) }
            }
        }
        return bitmap.words.withUnsafeBufferPointer { bits in
            var scanned = 0
            while true {
                let probes = nearestLists(q, nprobe: nprobe, ef: parameters.ef)
                scan(q, probes: Array(probes[min(scanned, probes.count)...]), allowed: bits.baseAddress!, into: heap)
                scanned = probes.count
                if heap.size(0) >= min(keep, allowed) || nprobe >= nlist { return nil }
                nprobe = min(nlist, nprobe * 2)
            }
        }
    }

    /// Scans the probed lists into `heap` (rows outside `allowed` skipped, when given).
    private func scan(_ q: UnsafePointer<Float>, probes: [Neighbor], allowed: UnsafePointer<UInt64>?, into heap: TopKHeaps) {
        if pq.bits == 4 {
            scanFastScanLists(q, probes: probes, allowed: allowed, into: heap)
        } else {
            scanLists(q, probes: probes, allowed: allowed, into: heap)
        }
    }

    private func probeCount(_ parameters: SearchParameters) -> Int {
        min(parameters.nprobe ?? Self.defaultNprobe, configuration.nlist)
    }

    /// Queries per block of a batch search: their coarse search is one `sgemm` against the
    /// centroids, so the nlist × d centroid matrix is read once per block instead of once per
    /// query (Fashion-MNIST IVF980,PQ98: 3 MB per query).
    static let coarseBlock = 64

    /// `nearestLists` for rows `first..<first+n` of `queries` (stored form) at once: one `sgemm`
    /// of the block against the centroids, then the same ranking (L2 order for L2 and cosine,
    /// inner product for ip) and the same reported coarse distances, up to rounding:
    /// ‖q − c‖² = ‖q‖² + ‖c‖² − 2⟨q, c⟩ for L2, −⟨q, c⟩ otherwise.
    func nearestLists(_ queries: VectorMatrix, first: Int, count n: Int, parameters: SearchParameters) -> [[Neighbor]] {
        let nprobe = probeCount(parameters)
        guard coarseGraph == nil, n > 1 else {
            return (0..<n).map { nearestLists(queries.row(first + $0), nprobe: nprobe, ef: parameters.ef) }
        }
        let nlist = configuration.nlist, d = dimension
        let products = UnsafeMutablePointer<Float>.allocate(capacity: n * nlist)
        defer { products.deallocate() }
        BLAS.gemmABt(m: n, n: nlist, k: d, a: queries.row(first), lda: d, b: centroids.baseAddress, ldb: d, c: products, ldc: nlist)
        return centroidSquaredNorms.withUnsafeBufferPointer { norms in
            (0..<n).map { i in
                let ip = products + i * nlist
                let probes = TopKHeaps(heapCount: 1, k: nprobe)
                for l in 0..<nlist {
                    let key = metric == .ip ? -ip[l] : norms[l] - 2 * ip[l]
                    if key < probes.threshold(0) { probes.push(0, distance: key, id: UInt64(l)) }
                }
                let q = queries.row(first + i)
                let queryNorm = metric == .l2 ? sk_ip(q, q, d) : 0
                return probes.sorted(0).map { p in
                    let l = Int(p.id)
                    return Neighbor(id: p.id, distance: metric == .l2 ? max(0, queryNorm + norms[l] - 2 * ip[l]) : -ip[l])
                }
            }
        }
    }

    /// The `nprobe` lists nearest to the query, nearest first, each with its coarse distance
    /// (L2: ‖q − c‖²; otherwise −⟨q, c⟩, which the code tables build on).
    ///
    /// Cosine lists are ranked in L2 order (‖c‖² − 2⟨q, c⟩ for a unit query), the order rows were
    /// assigned in, not by ⟨q, c⟩ (centroids of unit vectors are shorter than one): on WordNet,
    /// IVF1312,PQ48 with rerank 4, recall@10 at nprobe 1 / 2 / 4 went from 0.4525 / 0.5935 /
    /// 0.7106 to 0.4617 / 0.6026 / 0.7178, unchanged at nprobe ≥ 32.
    func nearestLists(_ q: UnsafePointer<Float>, nprobe: Int, ef: Int?) -> [Neighbor] {
        if let coarseGraph {
            // The graph returns exact distances of its metric (L2 for cosine) for what it finds.
            let query = Array(UnsafeBufferPointer(start: q, count: dimension))
            var found = (try? coarseGraph.search(query, k: nprobe, parameters: SearchParameters(ef: max(ef ?? 2 * nprobe, 32)))) ?? []
            if metric == .cosine {
                // ‖q − c‖² = 1 + ‖c‖² − 2⟨q, c⟩ for a unit query.
                for i in found.indices { found[i].distance = (found[i].distance - 1 - centroidSquaredNorms[Int(found[i].id)]) / 2 }
            }
            return found
        }
        let nlist = configuration.nlist
        let probes = TopKHeaps(heapCount: 1, k: nprobe)
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: nlist) { coarse in
            VectorMath.distances(metric, query: q, rows: centroids.baseAddress, count: nlist, dimension: dimension, into: coarse.baseAddress!)
            centroidSquaredNorms.withUnsafeBufferPointer { norms in
                for l in 0..<nlist {
                    let key = metric == .cosine ? norms[l] + 2 * coarse[l] : coarse[l]
                    if key < probes.threshold(0) { probes.push(0, distance: key, id: UInt64(l)) }
                }
            }
            // Whatever order ranked them, report the metric's coarse distance.
            return probes.sorted(0).map { Neighbor(id: $0.id, distance: coarse[Int($0.id)]) }
        }
    }

    /// 8-bit codes: one float table for the query, a scan per probed list.
    private func scanLists(_ q: UnsafePointer<Float>, probes: [Neighbor], allowed: UnsafePointer<UInt64>?, into heap: TopKHeaps) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: pq.m * pq.centroidCount) { buffer in
            let table = buffer.baseAddress!, m = pq.m
            pq.innerProductTable(q, scale: metric == .l2 ? -2 : -1, into: table)
            for probe in probes {
                let l = Int(probe.id)
                let size = listRows[l].count
                guard size > 0 else { continue }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { distances in
                    listCodes[l].withUnsafeBufferPointer { codes in
                        if metric == .l2 {
                            listExtras[l].withUnsafeBufferPointer { extras in
                                sk_pq8_scan(table, m, codes.baseAddress!, size, probe.distance, extras.baseAddress!, distances.baseAddress!)
                            }
                        } else {
                            sk_pq8_scan(table, m, codes.baseAddress!, size, probe.distance, nil, distances.baseAddress!)
                        }
                    }
                    listRows[l].withUnsafeBufferPointer { rows in
                        for i in 0..<size where distances[i] < heap.threshold(0) {
                            let row = Int(rows[i])
                            if deletedCount > 0 && tombstones[row] != 0 { continue }
                            if let allowed, (allowed[row >> 6] >> UInt64(row & 63)) & 1 == 0 { continue }
                            heap.push(0, distance: distances[i], id: UInt64(row))
                        }
                    }
                }
            }
        }
    }

    /// Codes per fast-scan call; the heap's threshold is refreshed between calls.
    private static let fastScanChunk = 1_024

    /// 4-bit codes: per probed list, the float table is quantized to bytes, and the scan keeps
    /// only codes whose byte sum can beat the heap's threshold. Distances are
    /// `coarse + offset + step · sum`, within `m · step / 2` of the float table's. For L2 the
    /// table is the query's part plus the list's precomputed part (cheaper than a residual table:
    /// 146 against 207 µs per query at IVF980,PQ98x4fs, nprobe 64); for inner product one table
    /// serves every list.
    private func scanFastScanLists(_ q: UnsafePointer<Float>, probes: [Neighbor], allowed: UnsafePointer<UInt64>?, into heap: TopKHeaps) {
        let m = pq.m, mpad = FastScanLayout.paddedM(m), size = m * pq.centroidCount, blockBytes = FastScanLayout.blockBytes(m: m)
        let chunk = Self.fastScanChunk
        withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { tableBuffer in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: mpad * 16) { lutBuffer in
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: chunk) { indexBuffer in
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: chunk) { sumBuffer in
            let table = tableBuffer.baseAddress!, lut = lutBuffer.baseAddress!
            var step: Float = 1, offset: Float = 0
            pq.innerProductTable(q, scale: metric == .l2 ? -2 : -1, into: table)
            if metric != .l2 { sk_pq4_quantize_lut(table, nil, m, mpad, lut, &step, &offset) }
            for probe in probes {
                let l = Int(probe.id), count = listRows[l].count
                guard count > 0 else { continue }
                if metric == .l2 {
                    listTables.withUnsafeBufferPointer { sk_pq4_quantize_lut(table, $0.baseAddress! + l * size, m, mpad, lut, &step, &offset) }
                }
                let bias = probe.distance + offset
                listCodes[l].withUnsafeBufferPointer { codes in
                    listRows[l].withUnsafeBufferPointer { rows in
                        for first in stride(from: 0, to: count, by: chunk) {
                            let limit = (heap.threshold(0) - bias) / step
                            guard limit >= 0 else { break }
                            let threshold = limit >= Float(UInt16.max) ? UInt16.max : UInt16(limit)
                            let found = sk_pq4_scan(lut, mpad, codes.baseAddress! + first / FastScanLayout.block * blockBytes,
                                                    min(chunk, count - first), threshold, indexBuffer.baseAddress!, sumBuffer.baseAddress!)
                            for s in 0..<found {
                                let distance = bias + step * Float(sumBuffer[s])
                                guard distance < heap.threshold(0) else { continue }
                                let row = Int(rows[first + Int(indexBuffer[s])])
                                if deletedCount > 0 && tombstones[row] != 0 { continue }
                                if let allowed, (allowed[row >> 6] >> UInt64(row & 63)) & 1 == 0 { continue }
                                heap.push(0, distance: distance, id: UInt64(row))
                            }
                        }
                    }
                }
            }
        }
        }
        }
        }
    }
}
