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

}
