import ShortlistCore

/// An index that takes inserts and deletes after it is built, and can give back a stored vector.
/// Every index kind conforms. Writes need exclusive access: the server runs one writer per
/// collection and keeps readers out while it writes.
public protocol MutableVectorIndex: VectorIndex {
    /// Adds `vector` (`dimension` finite floats) under `id`, which must not be live.
    /// Throws `IndexError.duplicateId`, `VectorError.dimensionMismatch`, `.nonFinite` or `.zeroNorm`
    /// (cosine), and leaves the index unchanged when it throws.
    func add(_ vector: [Float], id: UInt64) throws
    /// Removes `id` from results; throws `IndexError.unknownId` when it is not live.
    func delete(id: UInt64) throws
    /// Whether `id` is live.
    func contains(id: UInt64) -> Bool
    /// Every live id, in no particular order.
    var liveIds: [UInt64] { get }
    /// The external id of every row, in row order (deleted rows keep their last id).
    var rowIds: [UInt64] { get }
    /// The id given to each row of the vectors the index was built from, in their order: what
    /// row-numbered ground truth translates through. `rowIds` for kinds that keep the input's
    /// order; an HNSW index renumbers its rows for locality and remembers where each went.
    var inputIds: [UInt64] { get }
    /// The row holding the live `id`, or nil: what `SearchParameters.allowedRows` is made of.
    /// Rows change with writes (a flat index moves its last row into a deleted one; compaction
    /// renumbers): a row bitmap is valid until the next change.
    func row(of id: UInt64) -> Int?
    /// The vector stored for `id` (nil when not live), as the index compares it: unit length for
    /// `.cosine`, and for IVF-PQ without `Refine` the quantized reconstruction.
    func storedVector(id: UInt64) -> [Float]?
}

extension MutableVectorIndex {
    public var inputIds: [UInt64] { rowIds }

    /// Rows that hold a deleted vector (kept until the index is compacted or rebuilt).
    public var deadRows: Int { rowIds.count - count }

    /// Rows stored, deleted ones included: the capacity a row bitmap of this index needs.
    public var rowCount: Int { rowIds.count }

    /// The rows of the live items among `ids` (ids not live are left out), for
    /// `SearchParameters.allowedRows`.
    public func rowBitmap<S: Sequence>(of ids: S) -> RowBitmap where S.Element == UInt64 {
        var bitmap = RowBitmap(rows: rowCount)
        for id in ids { if let row = row(of: id) { bitmap.insert(row) } }
        return bitmap
    }

    /// Inserts `vector` under `id`, replacing the live vector with that id if there is one.
    /// The new vector is checked before anything changes, so a bad vector leaves the old one in place.
    public func upsert(_ vector: [Float], id: UInt64) throws {
        try validate(vector)
        if contains(id: id) { try delete(id: id) }
        try add(vector, id: id)
    }

    /// Throws what `add` would throw for `vector`'s shape or values (dimension, NaN/∞, zero norm for cosine).
    public func validate(_ vector: [Float]) throws {
        guard vector.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: vector.count) }
        try vector.withUnsafeBufferPointer { try VectorMath.validateFinite($0) }
        if metric.normalizesVectors {
            var copy = vector
            try copy.withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: dimension) }
        }
    }
}
