import CShortlistKernels
import Foundation
import ShortlistCore
import Synchronization

/// Approximate nearest-neighbour search on a hierarchical navigable small-world graph
/// (Malkov & Yashunin, 2018): a layered proximity graph searched greedily from the top layer,
/// then by a beam of width `ef` on layer 0.
///
/// Storage follows docs/performance.md §5: one aligned vector buffer (huge pages where the kernel
/// allows), layer-0 adjacency as one flat array of `rows × (2m + 1)` u32 (a count, then ids),
/// upper layers in one flat array, and a reusable visited set per thread.
///
/// Metrics: `.l2` searches squared L2. `.cosine` normalises vectors and searches by negated
/// inner product. `.ip` uses the standard reduction of maximum inner product to L2: each vector
/// gains one coordinate √(M² − ‖x‖²), with M the largest norm, and queries gain a 0, so the
/// nearest neighbour in L2 is the largest inner product even when norms vary widely; the
/// returned distances are the exact −q·x.
///
/// Concurrency: searches may run concurrently with each other. `add`, `delete` and the build
/// itself need exclusive access (the server serialises writes per collection).
public final class HNSWIndex: MutableVectorIndex, @unchecked Sendable {
    public let metric: Metric
    public let dimension: Int
    public let configuration: HNSWConfiguration
    public var spec: IndexSpec { .hnsw(m: configuration.m, storage: configuration.storage) }
    /// Live (searchable) vectors.
    public var count: Int { idMap.liveCount }
    /// Rows stored, including deleted ones until `compacted()`.
    public var rows: Int { store.count }
    /// Deleted rows still held in the graph.
    public internal(set) var deletedCount = 0
    /// Deleted rows `add` may reuse (built from the tombstones when first needed).
    var freeRows: [Int]?

    /// The `ef` used when a search does not give one.
    public static let defaultEf = 64
    /// Levels are capped here (a level above 30 has probability m^-30).
    static let maximumLevel = 30

    /// Components per stored row: `dimension`, plus one for `.ip`.
    let storedDimension: Int
    let m: Int
    let m0: Int
    /// Vectors in stored form (normalised for cosine, augmented for inner product, scaled for
    /// float16), `rows × storedDimension`.
    let store: HNSWVectorStore
    /// Layer-0 adjacency, `capacity × (m0 + 1)`: count, then up to m0 ids.
    var level0: UnsafeMutablePointer<UInt32>
    /// Level of each row.
    var levels: UnsafeMutablePointer<UInt8>
    /// Start of each row's upper-layer lists in `upperLinks` (−1 for level-0-only rows); level l ≥ 1
    /// is at `upperOffset[row] + (l − 1)(m + 1)`.
    var upperOffset: UnsafeMutablePointer<Int32>
    var upperLinks: UnsafeMutablePointer<UInt32>
    var upperCount: Int
    var upperCapacity: Int
    /// 1 where a row is deleted.
    var tombstones: UnsafeMutablePointer<UInt8>
    /// Which of `level0`, `levels` and `tombstones` are used in place from a file mapping.
    var buffers = BorrowedBuffers()
    /// Per-row spinlocks, used while the graph is built.
    var locks: UnsafeMutablePointer<UInt8>
    var rowCapacity: Int
    var entryPoint: Int32 = -1
    var maxLevel = -1
    /// For `.ip`: the M of the L2 reduction (0 otherwise).
    var ipMaxNorm: Float = 0
    public internal(set) var idMap: IdMap
    /// The row each row of the build's input went to when rows were renumbered (`renumber`);
    /// nil: input row r is row r.
    var inputRows: [UInt32]?
    /// Guards `entryPoint`/`maxLevel` while building (a one-byte spinlock).
    let entrySpin: UnsafeMutablePointer<UInt8>
    let scratchPool: HNSWScratchPool

    /// Builds an index over `vectors` (`count × dimension`, row-major; not modified), with
    /// optional external ids (default: row numbers), using `threads` threads.
    public convenience init(metric: Metric, vectors input: VectorMatrix, ids: [UInt64]? = nil,
                            configuration: HNSWConfiguration = HNSWConfiguration(), threads: Int = 1,
                            progress: ProgressHandler? = nil) throws {
        try configuration.validate()
        guard input.count < Int(UInt32.max) else { throw IndexError.tooManyRows(input.count) }
        try input.validateFinite()
        let idMap = try IdMap(ids: ids, count: input.count)
        let d = input.dimension
        let storedDimension = metric == .ip ? d + 1 : d
        let store = HNSWVectorStore(storage: configuration.storage, dimension: storedDimension, capacity: input.count)
        // The inner-product reduction's M, and for float16 the largest magnitude stored.
        var maxNorm: Float = 0, maxAbs: Float = 0
        for r in 0..<input.count {
            if metric == .ip { maxNorm = max(maxNorm, sk_ip(input.row(r), input.row(r), d).squareRoot()) }
            if metric != .cosine { for j in 0..<d { maxAbs = max(maxAbs, abs(input.row(r)[j])) } }
        }
        if configuration.storage != .float32 && metric != .cosine { store.chooseScale(maxAbs: max(maxAbs, maxNorm)) }
        _ = store.appendRows(input.count)
        try withUnsafeTemporaryAllocation(of: Float.self, capacity: storedDimension) { row in
            let p = row.baseAddress!
            for r in 0..<input.count {
                p.update(from: input.row(r), count: d)
                if metric == .cosine { try VectorMath.normalize(p, dimension: d, row: r) }
                if metric == .ip { p[d] = max(0, maxNorm * maxNorm - sk_ip(p, p, d)).squareRoot() }
                store.setRow(r, from: p)
            }
        }
        self.init(metric: metric, dimension: d, configuration: configuration, store: store, idMap: idMap)
        ipMaxNorm = maxNorm
        for r in 0..<input.count { levels[r] = UInt8(level(forRow: r)) }
        layOutUpperLinks(from: 0)
        try build(rows: 0..<input.count, threads: threads, progress: progress)
        if configuration.localityOrder { renumber(breadthFirstOrder()) }
        store.fitCodes()
    }

    /// The per-row graph buffers of a file mapping, used in place (`load`): layer-0 lists, levels
    /// and tombstones, `rows` each.
    struct MappedGraph {
        var level0: UnsafeMutablePointer<UInt32>
        var levels: UnsafeMutablePointer<UInt8>
        var tombstones: UnsafeMutablePointer<UInt8>
        var mapping: MappedFile
    }

    /// An empty graph over the rows in `store` (already in stored form); the caller fills levels
    /// and links, or passes them in place (`mapped`, one per stored row).
    init(metric: Metric, dimension: Int, configuration: HNSWConfiguration, store: HNSWVectorStore, idMap: IdMap,
         mapped: MappedGraph? = nil) {
        self.metric = metric
        self.dimension = dimension
        self.configuration = configuration
        self.storedDimension = store.dimension
        m = configuration.m
        m0 = 2 * configuration.m
        self.store = store
        self.idMap = idMap
        if let mapped {
            rowCapacity = store.count
            level0 = mapped.level0
            levels = mapped.levels
            tombstones = mapped.tombstones
            var borrowed = BorrowedBuffers()
            borrowed.borrow(mapped.level0, from: mapped.mapping)
            borrowed.borrow(mapped.levels, from: mapped.mapping)
            borrowed.borrow(mapped.tombstones, from: mapped.mapping)
            buffers = borrowed
        } else {
            rowCapacity = max(store.count, 16)
            level0 = AlignedMemory.allocate(UInt32.self, count: rowCapacity * (2 * configuration.m + 1), repeating: 0)
            levels = AlignedMemory.allocate(UInt8.self, count: rowCapacity, repeating: 0)
            tombstones = AlignedMemory.allocate(UInt8.self, count: rowCapacity, repeating: 0)
        }
        upperOffset = AlignedMemory.allocate(Int32.self, count: rowCapacity, repeating: -1)
        locks = AlignedMemory.allocate(UInt8.self, count: rowCapacity, repeating: 0)
        entrySpin = AlignedMemory.allocate(UInt8.self, count: 1, repeating: 0)
        upperCapacity = 1024
        upperCount = 0
        upperLinks = AlignedMemory.allocate(UInt32.self, count: upperCapacity, repeating: 0)
        let rowsForScratch = store.count, degree = 2 * configuration.m, sd = store.dimension, stride = store.codeStride
        scratchPool = HNSWScratchPool { HNSWScratch(rows: rowsForScratch, maxDegree: degree, storedDimension: sd, codeStride: stride) }
    }

    deinit {
        buffers.free(level0)
        buffers.free(levels)
        AlignedMemory.free(upperOffset)
        AlignedMemory.free(upperLinks)
        buffers.free(tombstones)
        AlignedMemory.free(locks)
        AlignedMemory.free(entrySpin)
    }

    public var memoryBytes: Int {
        store.bytes + rowCapacity * ((m0 + 1) * 4 + 1 + 4 + 1 + 1) + upperCapacity * 4 + idMap.memoryBytes
    }

    // MARK: Levels and layout

    /// The level of `row`: floor(−ln(U) / ln(m)) for a uniform U drawn from (seed, row), so it
    /// does not depend on insertion order or thread count.
    func level(forRow row: Int) -> Int {
        var g = SeededGenerator(seed: configuration.seed ^ (UInt64(row) &* 0x9E37_79B9_7F4A_7C15))
        var u = g.nextUnitDouble()
        while u <= 0 { u = g.nextUnitDouble() }
        return min(Self.maximumLevel, Int(-log(u) / log(Double(m))))
    }

    /// Assigns upper-layer storage to rows `from..<rows` according to their levels.
    func layOutUpperLinks(from first: Int) {
        var needed = upperCount
        for r in first..<store.count where levels[r] > 0 { needed += Int(levels[r]) * (m + 1) }
        if needed > upperCapacity {
            let newCapacity = max(needed, upperCapacity * 2)
            upperLinks = AlignedMemory.grow(upperLinks, oldCount: upperCount, newCount: newCapacity, fill: 0)
            upperCapacity = newCapacity
        }
        for r in first..<store.count where levels[r] > 0 {
            upperOffset[r] = Int32(upperCount)
            upperLinks.advanced(by: upperCount).update(repeating: 0, count: Int(levels[r]) * (m + 1))
            upperCount += Int(levels[r]) * (m + 1)
        }
    }

    /// The adjacency list of `node` at `level`: element 0 is the count, then the ids.
    @inline(__always)
    func links(_ node: Int, _ level: Int) -> UnsafeMutablePointer<UInt32> {
        level == 0 ? level0 + node * (m0 + 1) : upperLinks + Int(upperOffset[node]) + (level - 1) * (m + 1)
    }

    /// Makes room for `rows` rows in every per-row buffer.
    func reserveRows(_ rows: Int) {
        guard rows > rowCapacity else { return }
        let newCapacity = max(rows, rowCapacity + rowCapacity / 2)
        level0 = buffers.grow(level0, oldCount: rowCapacity * (m0 + 1), newCount: newCapacity * (m0 + 1), fill: 0)
        levels = buffers.grow(levels, oldCount: rowCapacity, newCount: newCapacity, fill: 0)
        upperOffset = AlignedMemory.grow(upperOffset, oldCount: rowCapacity, newCount: newCapacity, fill: -1)
        tombstones = buffers.grow(tombstones, oldCount: rowCapacity, newCount: newCapacity, fill: 0)
        locks = AlignedMemory.grow(locks, oldCount: rowCapacity, newCount: newCapacity, fill: 0)
        rowCapacity = newCapacity
        store.reserve(newCapacity)
    }

    // MARK: Inner product reduction

    /// Sets M for the inner-product reduction and rewrites every row's extra coordinate.
    func setInnerProductNorm(_ norm: Float) {
        ipMaxNorm = norm
        withUnsafeTemporaryAllocation(of: Float.self, capacity: storedDimension) { row in
            let p = row.baseAddress!
            for r in 0..<store.count {
                store.readRow(r, into: p)
                p[dimension] = max(0, ipMaxNorm * ipMaxNorm - sk_ip(p, p, dimension)).squareRoot()
                store.setRow(r, from: p)
            }
        }
        // The extra component's range moved with M.
        if store.codeFittedRows > 0 { store.fitCodes() }
    }

    // MARK: Distances

    /// Graph distance between a stored-form query and a row.
    @inline(__always)
    func distance(_ q: UnsafePointer<Float>, _ row: Int) -> Float {
        metric == .cosine ? -store.innerProduct(q, row, components: storedDimension) : store.l2Squared(q, row)
    }

    /// Graph distances from `q` to `count` rows named in `nodes`, into `out` (prefetching rows).
    /// Distances at or beyond `bound` may be reported as any value ≥ `bound` (L2 rows stop being
    /// read once their partial sum passes it): callers must reject such candidates.
    @inline(__always)
    func distances(_ q: UnsafePointer<Float>, _ nodes: UnsafePointer<UInt32>, _ count: Int, bound: Float,
                   _ out: UnsafeMutablePointer<Float>) {
        if metric == .cosine {
            store.innerProducts(q, nodes, count, out)
            for i in 0..<count { out[i] = -out[i] }
        } else {
            store.l2Squareds(q, nodes, count, bound: bound, out)
        }
    }

    /// The walk's distances: estimated from 8-bit codes when the search prepared a code query
    /// (`scratch.walksCodes`), otherwise `distances`.
    @inline(__always)
    func walkDistances(_ q: UnsafePointer<Float>, _ scratch: HNSWScratch, _ nodes: UnsafePointer<UInt32>, _ count: Int,
                       bound: Float, _ out: UnsafeMutablePointer<Float>) {
        if scratch.walksCodes {
            store.codeDistances(scratch.codeQuery, base: scratch.codeBase, factor: scratch.codeFactor, l2: metric != .cosine,
                                nodes, count, out)
        } else {
            distances(q, nodes, count, bound: bound, out)
        }
    }

    /// Re-ranks the walk's results (estimated distances) on the stored rows, keeping the best `k`.
    func rerankResults(_ scratch: HNSWScratch, k: Int) {
        let n = scratch.results.count
        scratch.reserveRerank(n)
        scratch.rerankNodes.update(from: scratch.results.nodes, count: n)
        distances(scratch.query, scratch.rerankNodes, n, bound: .infinity, scratch.rerankDistances)
        scratch.results.removeAll()
        for i in 0..<n {
            let d = scratch.rerankDistances[i]
            if scratch.results.count < k {
                scratch.results.push(-d, scratch.rerankNodes[i])
            } else if d < -scratch.results.topDistance {
                scratch.results.pop()
                scratch.results.push(-d, scratch.rerankNodes[i])
            }
        }
    }

    // MARK: Queries

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

    // MARK: Changes

    /// Adds one vector with external id `id` (which must not be live), linking it into the graph.
    /// A deleted row is reused when there is one (hnswlib's "replace deleted"): its vector and
    /// outgoing links are replaced and it is linked in again at its level, so a stream of
    /// upserts and deletes does not grow the graph past its largest live count.
    public func add(_ vector: [Float], id: UInt64) throws {
        guard idMap.row(of: id) == nil else { throw IndexError.duplicateId(id) }
        guard vector.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: vector.count) }
        try vector.withUnsafeBufferPointer { try VectorMath.validateFinite($0) }
        var stored = vector
        if metric == .cosine { try stored.withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: dimension) } }
        var norm: Float = 0
        if metric == .ip {
            norm = sk_ip(stored, stored, dimension).squareRoot()
            stored.append(max(0, ipMaxNorm * ipMaxNorm - norm * norm).squareRoot())
        }
        if let row = takeFreeRow() {
            try idMap.reuse(row: row, for: id)
            tombstones[row] = 0
            deletedCount -= 1
            // Its old lists go; links other nodes still hold to it now lead to the new vector.
            links(row, 0)[0] = 0
            for l in stride(from: 1, through: Int(levels[row]), by: 1) { links(row, l)[0] = 0 }
            store.setRow(row, from: stored)
            if metric == .ip && norm > ipMaxNorm { setInnerProductNorm(norm * 1.1) }
            insert(row)
            return
        }
        guard rows + 1 < Int(UInt32.max) else { throw IndexError.tooManyRows(rows + 1) }
        let row = rows
        reserveRows(row + 1)
        try idMap.append(id)
        _ = store.appendRows(1)
        store.setRow(row, from: stored)
        // A larger norm than any seen moves M for every row (rare: M grows with headroom).
        if metric == .ip && norm > ipMaxNorm { setInnerProductNorm(norm * 1.1) }
        levels[row] = UInt8(level(forRow: row))
        layOutUpperLinks(from: row)
        try build(rows: row..<row + 1, threads: 1, progress: nil)
        store.refitCodesIfClamped()
    }

    /// A deleted row to reuse, or nil. The entry point is never reused (the graph is entered there).
    private func takeFreeRow() -> Int? {
        guard deletedCount > 0 else { return nil }
        if freeRows == nil { freeRows = (0..<rows).filter { tombstones[$0] != 0 } }
        while let row = freeRows!.popLast() {
            if row != Int(entryPoint) && tombstones[row] != 0 { return row }
        }
        return nil
    }

    /// Deletes the vector with external id `id`: it never appears in results again. Its row stays
    /// in the graph (as a waypoint) until `compacted()` rebuilds without it.
    public func delete(id: UInt64) throws {
        guard let row = idMap.remove(id) else { throw IndexError.unknownId(id) }
        tombstones[row] = 1
        deletedCount += 1
        freeRows?.append(row)
    }

    public var liveIds: [UInt64] { idMap.liveIds }
    public func row(of id: UInt64) -> Int? { idMap.row(of: id) }
    public var rowIds: [UInt64] { idMap.ids }

    public var inputIds: [UInt64] {
        guard let inputRows else { return idMap.ids }
        return inputRows.map { idMap.ids[Int($0)] }
    }

    /// Whether `id` is live in the index.
    public func contains(id: UInt64) -> Bool { idMap.row(of: id) != nil }

    public func storedVector(id: UInt64) -> [Float]? {
        guard let row = idMap.row(of: id) else { return nil }
        var out = [Float](repeating: 0, count: storedDimension)
        out.withUnsafeMutableBufferPointer { store.readRow(row, into: $0.baseAddress!) }
        if storedDimension > dimension { out.removeLast(storedDimension - dimension) }
        return out
    }

    /// A new index over the live vectors only (same settings and ids), reclaiming deleted rows' memory.
    public func compacted(threads: Int = 1, progress: ProgressHandler? = nil) throws -> HNSWIndex {
        let (vectors, ids) = try liveVectors()
        return try HNSWIndex(metric: metric, vectors: vectors, ids: ids, configuration: configuration, threads: threads, progress: progress)
    }

    /// The live vectors (`count × dimension`, as `storedVector` gives them) and their ids, in row
    /// order: a copy to rebuild from while the index goes on changing.
    public func liveVectors() throws -> (vectors: VectorMatrix, ids: [UInt64]) {
        let live = (0..<rows).filter { tombstones[$0] == 0 }
        let input = try VectorMatrix(count: live.count, dimension: dimension)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: storedDimension) { row in
            for (i, r) in live.enumerated() {
                store.readRow(r, into: row.baseAddress!)
                input.row(i).update(from: row.baseAddress!, count: dimension)
            }
        }
        return (input, live.map { idMap.id(ofRow: $0) })
    }
}
