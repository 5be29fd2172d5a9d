import CShortlistKernels
import ShortlistCore

/// Exact k-nearest-neighbour search over every stored vector.
///
/// Single queries scan the rows with the SIMD distance kernels in blocks, keeping the best `k`
/// in a bounded heap. Batches of queries run as FAISS does above ~20 queries: tiles of
/// `queries × base rows` inner products through `sgemm`, turned into distances and filtered
/// against each query's current k-th distance by a vectorised kernel (docs/performance.md §3).
/// Vectors are stored once, row-major, L2-normalised for `.cosine`.
public final class FlatIndex: MutableVectorIndex, @unchecked Sendable {
    public let metric: Metric
    public var dimension: Int { vectors.dimension }
    public var count: Int { vectors.count }
    public var spec: IndexSpec { .flat }
    public var memoryBytes: Int { vectors.allocatedBytes + idMap.memoryBytes + squaredNorms.count * 4 }

    /// The stored vectors (normalised for cosine), `count × dimension`.
    public let vectors: VectorMatrix
    /// External id of each row.
    public private(set) var idMap: IdMap
    /// ‖x‖² per row, used by the L2 batch path (empty for other metrics).
    private var squaredNorms: [Float]

    /// Query rows per sgemm tile and base rows per tile (docs/performance.md §3: 1000 × 1024 was best).
    static let queryTile = 512
    static let baseTile = 1024

    /// Builds an index that owns `vectors` (normalised in place for cosine). `ids` gives each
    /// row's external id (default: the row number); they must be unique.
    public init(metric: Metric, vectors: VectorMatrix, ids: [UInt64]? = nil) throws {
        guard vectors.count < Int(UInt32.max) else { throw IndexError.tooManyRows(vectors.count) }
        try vectors.validateFinite()
        if metric.normalizesVectors { try vectors.normalizeRows() }
        idMap = try IdMap(ids: ids, count: vectors.count)
        self.metric = metric
        self.vectors = vectors
        squaredNorms = metric == .l2 ? vectors.squaredNorms() : []
    }

    // MARK: Queries

    /// Checks a query's shape and values and returns the vector to search with (normalised for cosine).
    func prepareQuery(_ query: UnsafeBufferPointer<Float>, row: Int = 0) throws -> [Float] {
        guard query.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: query.count) }
        try VectorMath.validateFinite(query, row: row)
        var q = Array(query)
        if metric.normalizesVectors { try q.withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: dimension, row: row) } }
        return q
    }

    static func validateK(_ k: Int) throws {
        guard k >= 1, k <= SearchLimits.maximumK else { throw VectorError.invalidK(k, maximum: SearchLimits.maximumK) }
    }

    public func search(_ query: [Float], k: Int, parameters: SearchParameters = .default) throws -> [Neighbor] {
        try Self.validateK(k)
        try parameters.validate()
        let q = try query.withUnsafeBufferPointer { try prepareQuery($0) }
        if let allowed = parameters.allowedRows { return search(q, k: k, allowedRows: allowed) }
        let heaps = TopKHeaps(heapCount: 1, k: min(k, max(count, 1)))
        let block = Self.baseTile
        let distances = UnsafeMutablePointer<Float>.allocate(capacity: block)
        let survivors = UnsafeMutablePointer<UInt32>.allocate(capacity: block)
        defer { distances.deallocate(); survivors.deallocate() }
        q.withUnsafeBufferPointer { qp in
            var start = 0
            while start < count {
                let n = min(block, count - start)
                VectorMath.distances(metric, query: qp.baseAddress!, rows: vectors.row(start), count: n, dimension: dimension, into: distances)
                let kept = sk_select_below(distances, n, heaps.threshold(0), survivors)
                for i in 0..<kept {
                    let j = Int(survivors[i])
                    heaps.push(0, distance: distances[j], id: UInt64(start + j))
                }
                start += n
            }
        }
        return heaps.sorted(0).map { Neighbor(id: idMap.id(ofRow: Int($0.id)), distance: $0.distance) }
    }

    /// Scores exactly the rows set in `allowed` (the filtered search).
    private func search(_ q: [Float], k: Int, allowedRows allowed: RowBitmap) -> [Neighbor] {
        let heap = TopKHeaps(heapCount: 1, k: max(1, min(k, allowed.count)))
        q.withUnsafeBufferPointer { qp in
            allowed.forEachRow { row in
                guard row < count else { return }
                let d = VectorMath.distance(metric, qp.baseAddress!, vectors.row(row), dimension: dimension)
                if d < heap.threshold(0) { heap.push(0, distance: d, id: UInt64(row)) }
            }
        }
        return heap.sorted(0).map { Neighbor(id: idMap.id(ofRow: Int($0.id)), distance: $0.distance) }
    }

    public func search(_ queries: VectorMatrix, k: Int, parameters: SearchParameters = .default, threads: Int = 1) throws -> SearchResults {
        try parameters.validate()
        if parameters.allowedRows != nil { return try searchEach(queries, k: k, parameters: parameters, threads: threads) }
        return try searchRows(queries, k: k, threads: threads, mapIds: true, progress: nil)
    }

    /// Batch search; `mapIds: false` returns row numbers instead of external ids.
    public func searchRows(_ queries: VectorMatrix, k: Int, threads: Int, mapIds: Bool, progress: ProgressHandler?) throws -> SearchResults {
        try Self.validateK(k)
        guard queries.dimension == dimension else {
            throw VectorError.dimensionMismatch(expected: dimension, actual: queries.dimension)
        }
        try queries.validateFinite()
        var prepared = queries
        if metric.normalizesVectors {
            prepared = try VectorMatrix(count: queries.count, dimension: dimension)
            UnsafeMutableRawPointer(prepared.baseAddress).copyMemory(from: queries.baseAddress, byteCount: queries.count * dimension * 4)
            try prepared.normalizeRows()
        }
        var results = SearchResults(queryCount: queries.count, k: k)
        guard count > 0, queries.count > 0 else { return results }
        let tileCount = (queries.count + Self.queryTile - 1) / Self.queryTile
        let done = ProgressCounter(total: queries.count, handler: progress)
        let keep = min(k, count)
        results.ids.withUnsafeMutableBufferPointer { idsOut in
            results.distances.withUnsafeMutableBufferPointer { distOut in
                let out = ResultPointers(ids: idsOut.baseAddress!, distances: distOut.baseAddress!)
                let queryMatrix = prepared
                Parallel.forEach(chunkCount: tileCount, threads: threads) { tile in
                    let first = tile * Self.queryTile
                    let n = min(Self.queryTile, queryMatrix.count - first)
                    self.searchTile(queryMatrix, first: first, count: n, k: k, keep: keep, mapIds: mapIds, out: out)
                    done.add(n)
                }
            }
        }
        return results
    }

    /// Searches queries `first..<first+n` against every base tile and writes their rows of results.
    private func searchTile(_ queries: VectorMatrix, first: Int, count n: Int, k: Int, keep: Int, mapIds: Bool, out: ResultPointers) {
        let tb = Self.baseTile
        let d = dimension
        let heaps = TopKHeaps(heapCount: n, k: keep)
        let products = UnsafeMutablePointer<Float>.allocate(capacity: n * tb)
        let survivorIndex = UnsafeMutablePointer<UInt32>.allocate(capacity: tb)
        let survivorDistance = UnsafeMutablePointer<Float>.allocate(capacity: tb)
        defer { products.deallocate(); survivorIndex.deallocate(); survivorDistance.deallocate() }
        let alpha: Float = metric == .l2 ? -2 : -1
        squaredNorms.withUnsafeBufferPointer { norms in
            var base = 0
            while base < count {
                let m = min(tb, count - base)
                BLAS.gemmABt(m: n, n: m, k: d, a: queries.row(first), lda: d, b: vectors.row(base), ldb: d, c: products, ldc: m)
                let bias: UnsafePointer<Float>? = metric == .l2 ? norms.baseAddress! + base : nil
                for i in 0..<n {
                    let kept = sk_select_affine_below(products + i * m, bias, alpha, m, heaps.threshold(i), survivorIndex, survivorDistance)
                    for s in 0..<kept {
                        heaps.push(i, distance: survivorDistance[s], id: UInt64(base + Int(survivorIndex[s])))
                    }
                }
                base += m
            }
        }
        for i in 0..<n {
            let q = first + i
            // For L2 the tiles ranked by ‖x‖² − 2q·x; add ‖q‖² back so callers get true distances.
            let offset: Float = metric == .l2 ? sk_ip(queries.row(q), queries.row(q), d) : 0
            for (j, nb) in heaps.sorted(i).enumerated() {
                out.ids[q * k + j] = mapIds ? idMap.id(ofRow: Int(nb.id)) : nb.id
                out.distances[q * k + j] = metric == .l2 ? max(0, nb.distance + offset) : nb.distance
            }
        }
    }

    // MARK: Changes

    /// Appends `vector` under `id` (which must not be live).
    public func add(_ vector: [Float], id: UInt64) throws {
        guard idMap.row(of: id) == nil else { throw IndexError.duplicateId(id) }
        try validate(vector)
        guard count + 1 < Int(UInt32.max) else { throw IndexError.tooManyRows(count + 1) }
        var stored = vector
        if metric.normalizesVectors {
            try stored.withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: dimension) }
        }
        try idMap.append(id)
        let row = try vectors.append(stored)
        if metric == .l2 { squaredNorms.append(sk_ip(vectors.row(row), vectors.row(row), dimension)) }
    }

    /// Removes `id`: the last row moves into its place, so the rows stay dense and exact search
    /// never scans a deleted vector.
    public func delete(id: UInt64) throws {
        guard let row = idMap.row(of: id) else { throw IndexError.unknownId(id) }
        let last = count - 1
        if row != last {
            vectors.row(row).update(from: vectors.row(last), count: dimension)
            if metric == .l2 { squaredNorms[row] = squaredNorms[last] }
        }
        idMap.removeMovingLast(id)
        vectors.truncate(to: last)
        if metric == .l2 { squaredNorms.removeLast() }
    }

    public var liveIds: [UInt64] { idMap.liveIds }
    public func row(of id: UInt64) -> Int? { idMap.row(of: id) }
    public var rowIds: [UInt64] { idMap.ids }

    public func contains(id: UInt64) -> Bool { idMap.row(of: id) != nil }

    public func storedVector(id: UInt64) -> [Float]? {
        idMap.row(of: id).map { vectors.rowArray($0) }
    }

    // MARK: Persistence

    public func fileDocument(extraSections: [IndexFile.Section]) -> IndexFile.Document {
        var meta = IndexMetadata()
        meta["spec"] = spec.description
        meta["writer"] = IndexMetadata.writerVersion
        return IndexFile.Document(
            header: IndexFile.Header(kind: .flat, metric: metric, dimension: dimension, count: count),
            sections: [
                IndexFile.Section(tag: "META", payload: .bytes(meta.encoded())),
                IndexFile.Section(tag: "VECS", payload: .vectors(vectors)),
                IndexFile.Section(tag: "IDS ", payload: .uint64s(idMap.ids)),
            ] + extraSections)
    }

    /// Rebuilds a flat index from a checked file.
    static func load(_ contents: IndexFile.Contents) throws -> FlatIndex {
        let h = contents.header
        let path = contents.path
        let vectorsBytes = try contents.section("VECS")
        guard vectorsBytes.count == h.count * h.dimension * 4 else {
            throw IndexFileError.inconsistent(path: path, reason: "VECS holds \(vectorsBytes.count) bytes for \(h.count) × \(h.dimension) floats")
        }
        let idBytes = try contents.section("IDS ")
        guard idBytes.count == h.count * 8 else {
            throw IndexFileError.inconsistent(path: path, reason: "IDS holds \(idBytes.count / 8) ids for \(h.count) vectors")
        }
        let matrix = try VectorMatrix(count: h.count, dimension: h.dimension)
        if h.count > 0 { UnsafeMutableRawPointer(matrix.baseAddress).copyMemory(from: vectorsBytes.baseAddress!, byteCount: vectorsBytes.count) }
        var ids = [UInt64](repeating: 0, count: h.count)
        for i in 0..<h.count { ids[i] = UInt64(littleEndian: idBytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        do {
            return try FlatIndex(storedVectors: matrix, metric: h.metric, ids: ids)
        } catch {
            throw IndexFileError.inconsistent(path: path, reason: "\(error)")
        }
    }

    /// Wraps vectors already in stored form (normalised for cosine) without re-normalising.
    private init(storedVectors: VectorMatrix, metric: Metric, ids: [UInt64]) throws {
        try storedVectors.validateFinite()
        self.metric = metric
        vectors = storedVectors
        idMap = try IdMap(ids: ids)
        squaredNorms = metric == .l2 ? storedVectors.squaredNorms() : []
    }
}

/// Raw output pointers shared by the worker threads of one batch search (each writes its own rows).
struct ResultPointers: @unchecked Sendable {
    let ids: UnsafeMutablePointer<UInt64>
    let distances: UnsafeMutablePointer<Float>
}
