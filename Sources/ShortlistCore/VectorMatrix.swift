import CShortlistKernels
#if canImport(Glibc)
import Glibc
#endif

/// A dense matrix of `count × dimension` Float32 values, row-major, in one 64-byte-aligned
/// buffer (rows are contiguous with stride `dimension`).
///
/// Large matrices are backed by transparent huge pages where the kernel allows it
/// (docs/performance.md §5). The matrix grows by `append`; after it is built, it is safe to read from
/// many threads at once. It is a class so that indexes can share one copy without copying.
public final class VectorMatrix: @unchecked Sendable {
    /// The largest dimension accepted anywhere (bounds memory for a single row).
    public static let maximumDimension = 65_536

    /// Number of components in each row.
    public let dimension: Int
    /// Number of rows stored.
    public private(set) var count: Int
    /// Number of rows the buffer can hold before it must grow.
    public private(set) var capacity: Int
    /// The first component of row 0; `count × dimension` valid floats.
    public private(set) var baseAddress: UnsafeMutablePointer<Float>
    /// The mapping the rows are used from in place (`init(borrowing:)`), nil when the buffer is
    /// owned. Borrowed rows are never freed; growing copies them into an owned buffer.
    public private(set) var mapping: MappedFile?

    /// Creates a matrix of `count` rows, all zero, with room for at least `capacity` rows.
    public init(count: Int = 0, dimension: Int, capacity: Int = 0) throws {
        guard dimension >= 1, dimension <= Self.maximumDimension else { throw VectorError.invalidDimension(dimension) }
        precondition(count >= 0 && capacity >= 0)
        self.dimension = dimension
        self.count = count
        self.capacity = max(count, capacity, 1)
        self.baseAddress = Self.allocate(rows: self.capacity, dimension: dimension)
        baseAddress.initialize(repeating: 0, count: count * dimension)
    }

    /// Copies a flat row-major array of `values.count / dimension` rows.
    public convenience init(dimension: Int, values: [Float]) throws {
        guard dimension >= 1 else { throw VectorError.invalidDimension(dimension) }
        guard values.count % dimension == 0 else {
            throw VectorError.dimensionMismatch(expected: dimension, actual: values.count % dimension)
        }
        try self.init(count: values.count / dimension, dimension: dimension)
        values.withUnsafeBufferPointer { src in
            if let p = src.baseAddress { baseAddress.update(from: p, count: src.count) }
        }
    }

    /// Uses `count × dimension` floats at `base`, inside `mapping`, in place (no copy). The
    /// mapping must be private and writable (`MappedFile(copyOnWrite: true)`), so writing a row
    /// copies only its page for this process, and `base` must be 64-byte aligned.
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, dimension: Int, from mapping: MappedFile) throws {
        guard dimension >= 1, dimension <= Self.maximumDimension else { throw VectorError.invalidDimension(dimension) }
        precondition(count >= 1 && mapping.copyOnWrite && Int(bitPattern: base) % 64 == 0)
        self.dimension = dimension
        self.count = count
        capacity = count
        baseAddress = base
        self.mapping = mapping
    }

    deinit { if mapping == nil { free(baseAddress) } }

    /// Bytes the row storage occupies (capacity, not just count).
    public var allocatedBytes: Int { capacity * dimension * MemoryLayout<Float>.stride }

    /// A pointer to the first component of `row`.
    @inlinable
    public func row(_ row: Int) -> UnsafeMutablePointer<Float> {
        baseAddress + row * dimension
    }

    /// Row `row` copied into an array (for tests and readable output, not for hot paths).
    public func rowArray(_ row: Int) -> [Float] {
        precondition(row >= 0 && row < count, "row \(row) out of range 0..<\(count)")
        return Array(UnsafeBufferPointer(start: self.row(row), count: dimension))
    }

    /// All rows as one flat array (tests and small data only).
    public func flatArray() -> [Float] {
        Array(UnsafeBufferPointer(start: baseAddress, count: count * dimension))
    }

    /// Appends one row of exactly `dimension` components and returns its row number.
    @discardableResult
    public func append(_ values: UnsafeBufferPointer<Float>) throws -> Int {
        guard values.count == dimension else {
            throw VectorError.dimensionMismatch(expected: dimension, actual: values.count)
        }
        reserveCapacity(count + 1)
        row(count).update(from: values.baseAddress!, count: dimension)
        count += 1
        return count - 1
    }

    /// Appends one row given as an array.
    @discardableResult
    public func append(_ values: [Float]) throws -> Int {
        try values.withUnsafeBufferPointer { try append($0) }
    }

    /// Appends `rows` zeroed rows and returns the first new row number, for bulk fills.
    public func appendZeroRows(_ rows: Int) -> Int {
        precondition(rows >= 0)
        reserveCapacity(count + rows)
        let first = count
        (baseAddress + first * dimension).initialize(repeating: 0, count: rows * dimension)
        count += rows
        return first
    }

    /// Makes room for at least `rows` rows, growing geometrically.
    public func reserveCapacity(_ rows: Int) {
        guard rows > capacity else { return }
        let newCapacity = max(rows, capacity + capacity / 2, 16)
        let newBase = Self.allocate(rows: newCapacity, dimension: dimension)
        newBase.update(from: baseAddress, count: count * dimension)
        if mapping == nil { free(baseAddress) }
        mapping = nil
        baseAddress = newBase
        capacity = newCapacity
    }

    /// Drops every row at or after `newCount`.
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count)
        count = newCount
    }

    /// Index of the first row holding a NaN or infinite value, and its column; nil when all are finite.
    public func firstNonFinite() -> (row: Int, column: Int)? {
        let total = count * dimension
        let i = sk_first_nonfinite(baseAddress, total)
        return i < total ? (i / dimension, i % dimension) : nil
    }

    /// Throws `VectorError.nonFinite` naming the first bad component (row numbers offset by `rowOffset`).
    public func validateFinite(rowOffset: Int = 0) throws {
        if let bad = firstNonFinite() { throw VectorError.nonFinite(row: bad.row + rowOffset, column: bad.column) }
    }

    /// L2-normalises every row in place; throws `VectorError.zeroNorm` for a zero row (the matrix is then unchanged from that row on).
    public func normalizeRows(from start: Int = 0) throws {
        for r in start..<count {
            try VectorMath.normalize(row(r), dimension: dimension, row: r)
        }
    }

    /// Squared L2 norm of every row: `count` values.
    public func squaredNorms() -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for r in 0..<count { out[r] = sk_ip(row(r), row(r), dimension) }
        return out
    }

    private static func allocate(rows: Int, dimension: Int) -> UnsafeMutablePointer<Float> {
        AlignedMemory.allocate(Float.self, count: rows * dimension)
    }
}
