import CShortlistKernels
import Foundation
import ShortlistCore

/// An inverted file over product-quantized residuals (Jégou et al., 2011), as FAISS's
/// `IndexIVFPQ`: vectors are assigned to the nearest of `nlist` coarse centroids, and the residual
/// to that centroid is coded in `m` bytes. A query scans the `nprobe` nearest lists, computing
/// each code's distance from tables; with `Refine`, the best `k × rerank` are re-ranked exactly
/// from the stored vectors.
///
/// For L2, the distance to a code r̂ in list l is split as
/// ‖q − c_l‖² − 2⟨q, r̂⟩ + (2⟨c_l, r̂⟩ + ‖r̂‖²): the last term depends only on the stored vector
/// and is kept per code (4 bytes, recomputed from the codes on load), so one query table
/// −2⟨q_j, C_jc⟩ serves every list and stays in cache. (FAISS's precomputed per-list tables
/// ‖C_jc‖² + 2⟨c_l,j, C_jc⟩ are nlist × m × 256 floats, 98 MB at IVF980,PQ98, and the scan missed
/// cache on them.) For inner product, one table −⟨q_j, C_jc⟩ serves every list, plus −⟨q, c_l⟩.
/// Cosine is inner product on normalised vectors.
///
/// Concurrency: searches may run concurrently; `add` and `delete` need exclusive access.
public final class IVFPQIndex: MutableVectorIndex, @unchecked Sendable {
    public let metric: Metric
    public let dimension: Int
    public let configuration: IVFPQConfiguration
    public var spec: IndexSpec {
        .ivfpq(nlist: configuration.nlist, m: configuration.m, refine: configuration.refine, opq: configuration.opq, bits: configuration.bits,
               coarseHNSW: configuration.coarseHNSW)
    }
    public var count: Int { idMap.liveCount }
    public var rows: Int { idMap.count }

    /// The `nprobe` used when a search does not give one.
    public static let defaultNprobe = 8
    /// The `rerank` used with `Refine` when a search does not give one.
    public static let defaultRerank = 4

    /// The OPQ rotation, when the spec has one: every stored vector, centroid and code lives in
    /// rotated space, and queries are rotated on the way in.
    let rotation: OPQRotation?
    /// `nlist × dimension` coarse centroids.
    let centroids: VectorMatrix
    /// With `coarseHNSW`: a graph over the centroids (ids = list numbers; inner product for inner
    /// product, L2 otherwise: cosine lists are ranked in L2 order, see `nearestLists`). Built on
    /// one thread with a fixed seed, so rebuilding it on load gives the same graph.
    let coarseGraph: HNSWIndex?
    /// ‖c‖² of every coarse centroid.
    let centroidSquaredNorms: [Float]
    /// Build candidate list of the coarse graph.
    static let coarseEfConstruction = 100
    let pq: ProductQuantizer
    /// 8-bit L2 only: per list, 2⟨c_l, r̂⟩ + ‖r̂‖² for every code, in list order.
    var listExtras: [[Float]]
    /// 4-bit L2 only: per list, the list's part of the residual table, ‖C_jc‖² + 2⟨c_l,j, C_jc⟩
    /// (`nlist × m × 16`); a probe adds the query's part −2⟨q_j, C_jc⟩.
    var listTables: [Float]
    /// Per list: codes (8 bits: `size × m` bytes; 4 bits: the `FastScanLayout` blocks) and rows,
    /// in insertion order.
    var listCodes: [[UInt8]]
    var listRows: [[UInt32]]
    /// Full vectors (stored form) when refining.
    let vectors: VectorMatrix?
    var tombstones: [UInt8]
    public private(set) var deletedCount = 0
    public private(set) var idMap: IdMap

    init(metric: Metric, dimension: Int, configuration: IVFPQConfiguration, rotation: OPQRotation?, centroids: VectorMatrix,
         pq: ProductQuantizer, listCodes: [[UInt8]], listRows: [[UInt32]], vectors: VectorMatrix?, tombstones: [UInt8], idMap: IdMap) throws {
        self.metric = metric
        self.rotation = rotation
        self.dimension = dimension
        self.configuration = configuration
        self.centroids = centroids
        self.pq = pq
        self.listCodes = listCodes
        self.listRows = listRows
        self.vectors = vectors
        self.tombstones = tombstones
        self.idMap = idMap
        deletedCount = tombstones.reduce(0) { $0 + Int($1) }
        centroidSquaredNorms = centroids.squaredNorms()
        if configuration.coarseHNSW > 0 {
            coarseGraph = try HNSWIndex(metric: metric == .ip ? .ip : .l2, vectors: centroids,
                                        configuration: HNSWConfiguration(m: configuration.coarseHNSW, efConstruction: Self.coarseEfConstruction,
                                                                         seed: configuration.seed &+ 5), threads: 1)
        } else {
            coarseGraph = nil
        }
        listExtras = Array(repeating: [], count: listCodes.count)
        listTables = []
        if metric == .l2 && pq.bits == 8 {
            for l in 0..<listCodes.count { listExtras[l] = computeExtras(list: l, codes: listCodes[l]) }
        }
        if metric == .l2 && pq.bits == 4 {
            let size = pq.m * pq.centroidCount
            var tables = [Float](repeating: 0, count: centroids.count * size)
            tables.withUnsafeMutableBufferPointer { out in
                pq.centroidNorms.withUnsafeBufferPointer { norms in
                    for l in 0..<centroids.count {
                        pq.innerProductTable(centroids.row(l), scale: 2, base: norms.baseAddress!, into: out.baseAddress! + l * size)
                    }
                }
            }
            listTables = tables
        }
    }

    /// 2⟨c_l, r̂⟩ + ‖r̂‖² for each code of list l.
    func computeExtras(list l: Int, codes: [UInt8]) -> [Float] {
        let m = pq.m
        var decoded = [Float](repeating: 0, count: dimension)
        return codes.withUnsafeBufferPointer { cp in
            (0..<codes.count / m).map { i in extra(list: l, code: cp.baseAddress! + i * m, decoded: &decoded) }
        }
    }

    /// 2⟨c_l, r̂⟩ + ‖r̂‖² for one code of list l; `decoded` is scratch of `dimension` floats.
    func extra(list l: Int, code: UnsafePointer<UInt8>, decoded: inout [Float]) -> Float {
        pq.decode(code, into: &decoded)
        return 2 * sk_ip(centroids.row(l), decoded, dimension) + sk_ip(decoded, decoded, dimension)
    }

    /// Trains the coarse quantizer and the product quantizer on a sample of `vectors`
    /// (`count × dimension`, not modified), then adds every vector.
    public convenience init(metric: Metric, vectors input: VectorMatrix, ids: [UInt64]? = nil, configuration c: IVFPQConfiguration,
                            threads: Int = 1, progress: ProgressHandler? = nil) throws {
        guard IVFPQConfiguration.nlistRange.contains(c.nlist) else {
            throw IndexError.invalidParameter(name: "nlist", value: c.nlist, allowed: IVFPQConfiguration.nlistRange)
        }
        let d = input.dimension
        guard IVFPQConfiguration.mRange.contains(c.m), d % c.m == 0 else {
            throw IndexError.invalidSpec("PQ\(c.m)", reason: "m must divide the dimension \(d)")
        }
        guard c.bits == 8 || (c.bits == 4 && c.m <= FastScanLayout.maxM) else {
            throw IndexError.invalidSpec("PQ\(c.m)x\(c.bits)", reason: "codes have 8 bits, or 4 bits with m ≤ \(FastScanLayout.maxM)")
        }
        guard input.count < Int(UInt32.max) else { throw IndexError.tooManyRows(input.count) }
        try input.validateFinite()
        let idMap = try IdMap(ids: ids, count: input.count)
        var stored = try VectorMatrix(dimension: d, values: input.flatArray())
        if metric == .cosine { try stored.normalizeRows() }
        // Training sample.
        let trainSize = min(stored.count, c.trainSize ?? max(64 * c.nlist, 65_536))
        guard trainSize >= max(c.nlist, 1 << c.bits) else {
            throw KMeansError.tooFewPoints(points: trainSize, centroids: max(c.nlist, 1 << c.bits))
        }
        var rng = SeededGenerator(seed: c.seed)
        let picked = KMeans.sampleIndices(count: trainSize, from: stored.count, rng: &rng)
        var train = try VectorMatrix(count: trainSize, dimension: d)
        for (i, r) in picked.enumerated() { train.row(i).update(from: stored.row(r), count: d) }
        var rotation: OPQRotation?
        if c.opq {
            let learned = try OPQRotation.train(train, m: c.m, seed: c.seed &+ 3, threads: threads)
            stored = learned.apply(stored)
            train = learned.apply(train)
            rotation = learned
        }
        // Progress in units: coarse k-means iterations, then sub-quantizers, then one for adding.
        let total = c.coarseIterations + c.m + 1
        let coarse = try KMeans.train(train, configuration: KMeansConfiguration(centroidCount: c.nlist, iterations: c.coarseIterations,
                                                                                seed: c.seed &+ 1, threads: threads),
                                      progress: progress.map { report in { @Sendable done, _ in report(done, total) } })
        let trainResiduals = Self.residuals(train, centroids: coarse.centroids, metric: metric, threads: threads).matrix
        let pq = try ProductQuantizer.train(trainResiduals, m: c.m, bits: c.bits, iterations: c.iterations, seed: c.seed &+ 2, threads: threads,
                                            progress: progress.map { report in { @Sendable done, _ in report(c.coarseIterations + done, total) } })
        try self.init(metric: metric, dimension: d, configuration: c, rotation: rotation, centroids: coarse.centroids, pq: pq,
                  listCodes: Array(repeating: [], count: c.nlist), listRows: Array(repeating: [], count: c.nlist),
                  vectors: c.refine ? stored : nil, tombstones: [], idMap: IdMap(identityCount: 0))
        self.idMap = idMap
        try append(stored, threads: threads)
        progress?(total, total)
    }

    /// Assignment of each row to its list, and the residuals x − c. Rows go to the nearest
    /// centroid in L2 for every metric: ⟨q, x⟩ = ⟨q, c⟩ + ⟨q, x − c⟩ holds whatever the
    /// assignment, and the smallest residual is coded most accurately (cosine test data, recall@10
    /// with re-ranking: 0.9475, against 0.9458 assigning by the largest ⟨x, c⟩).
    static func residuals(_ data: VectorMatrix, centroids: VectorMatrix, metric: Metric, threads: Int) -> (matrix: VectorMatrix, lists: [Int32]) {
        var assignment = [Int32](repeating: 0, count: data.count)
        KMeans.assign(data, to: centroids, into: &assignment, pointNorms: data.squaredNorms(), threads: threads)
        let residual = try! VectorMatrix(count: data.count, dimension: data.dimension)
        for r in 0..<data.count {
            let c = centroids.row(Int(assignment[r])), x = data.row(r), out = residual.row(r)
            for j in 0..<data.dimension { out[j] = x[j] - c[j] }
        }
        return (residual, assignment)
    }

    /// Encodes stored-form rows (ids already mapped) and appends them to their lists.
    private func append(_ stored: VectorMatrix, threads: Int) throws {
        let (residual, lists) = Self.residuals(stored, centroids: centroids, metric: metric, threads: threads)
        let codes = pq.encode(residual, threads: threads)
        let m = pq.m
        let firstRow = tombstones.count
        var decoded = [Float](repeating: 0, count: dimension)
        codes.withUnsafeBufferPointer { cp in
            for r in 0..<stored.count {
                let l = Int(lists[r])
                if pq.bits == 4 {
                    FastScanLayout.append(cp.baseAddress! + r * m, m: m, position: listRows[l].count, to: &listCodes[l])
                } else {
                    listCodes[l].append(contentsOf: cp[r * m..<(r + 1) * m])
                    if metric == .l2 { listExtras[l].append(extra(list: l, code: cp.baseAddress! + r * m, decoded: &decoded)) }
                }
                listRows[l].append(UInt32(firstRow + r))
            }
        }
        tombstones.append(contentsOf: repeatElement(0, count: stored.count))
    }

    public var memoryBytes: Int {
        centroids.allocatedBytes + (rotation?.matrix.count ?? 0) * 4 + listExtras.reduce(0) { $0 + $1.count * 4 } + listTables.count * 4
            + pq.codebooks.count * 8 + (vectors?.allocatedBytes ?? 0)
            + listCodes.reduce(0) { $0 + $1.count } + listRows.reduce(0) { $0 + $1.count * 4 } + tombstones.count + idMap.memoryBytes
    }

    // MARK: Search

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

    // MARK: Changes

    /// Adds one vector with a new external id (the quantizers are not retrained).
    public func add(_ vector: [Float], id: UInt64) throws {
        guard idMap.row(of: id) == nil else { throw IndexError.duplicateId(id) }
        guard vector.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: vector.count) }
        var stored = try VectorMatrix(dimension: dimension, values: vector)
        try stored.validateFinite()
        if metric.normalizesVectors { try stored.normalizeRows() }
        if let rotation { stored = rotation.apply(stored) }
        try idMap.append(id)
        try vectors?.append(stored.rowArray(0))
        try append(stored, threads: 1)
    }

    /// Deletes the vector with external id `id`; it never appears in results again.
    public func delete(id: UInt64) throws {
        guard let row = idMap.remove(id) else { throw IndexError.unknownId(id) }
        tombstones[row] = 1
        deletedCount += 1
    }

    public var liveIds: [UInt64] { idMap.liveIds }
    public func row(of id: UInt64) -> Int? { idMap.row(of: id) }
    public var rowIds: [UInt64] { idMap.ids }

    public func contains(id: UInt64) -> Bool { idMap.row(of: id) != nil }

    /// The exact vector with `Refine`; otherwise the centroid plus the decoded residual (found by
    /// scanning the lists' row numbers, O(rows)). Un-rotated when the index has OPQ.
    public func storedVector(id: UInt64) -> [Float]? {
        guard let row = idMap.row(of: id) else { return nil }
        var rotated = [Float](repeating: 0, count: dimension)
        if let vectors {
            rotated = vectors.rowArray(row)
        } else {
            guard let (l, p) = listPosition(ofRow: row) else { return nil }
            var code = [UInt8](repeating: 0, count: pq.m)
            listCodes[l].withUnsafeBufferPointer { packed in
                for j in 0..<pq.m {
                    code[j] = pq.bits == 4 ? FastScanLayout.value(packed.baseAddress!, m: pq.m, position: p, sub: j) : packed[p * pq.m + j]
                }
            }
            rotated.withUnsafeMutableBufferPointer { out in
                pq.decode(code, into: out.baseAddress!)
                for j in 0..<dimension { out[j] += centroids.row(l)[j] }
            }
        }
        guard let rotation else { return rotated }
        // y = x·R with R orthogonal, so x = y·Rᵀ.
        var x = [Float](repeating: 0, count: dimension)
        rotation.matrix.withUnsafeBufferPointer { r in
            BLAS.gemm(transposeA: false, transposeB: true, m: 1, n: dimension, k: dimension,
                      a: rotated, lda: dimension, b: r.baseAddress!, ldb: dimension, c: &x, ldc: dimension)
        }
        return x
    }

    /// The list holding `row` and its position there.
    private func listPosition(ofRow row: Int) -> (list: Int, position: Int)? {
        for l in listRows.indices {
            if let p = listRows[l].firstIndex(of: UInt32(row)) { return (l, p) }
        }
        return nil
    }
}
