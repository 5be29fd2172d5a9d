import ShortlistCore

/// A dense `count × width` matrix of Int32, row-major: ground truth and search results
/// (`.ivecs`), where −1 pads rows with fewer than `width` results.
public struct IntMatrix: Equatable, Sendable {
    /// Number of rows.
    public var count: Int
    /// Number of values in each row.
    public var width: Int
    /// `count × width` values, row-major.
    public var values: [Int32]

    public init(count: Int, width: Int, values: [Int32]) {
        precondition(values.count == count * width)
        self.count = count
        self.width = width
        self.values = values
    }

    /// Row `r` as a slice.
    public subscript(row r: Int) -> ArraySlice<Int32> {
        values[r * width..<(r + 1) * width]
    }

    /// Reads an `.ivecs` file; every row must have the same width.
    public static func read(path: String) throws -> IntMatrix {
        try TexmexFormat.readInts(try MappedFile(path: path))
    }

    /// Writes this matrix as `.ivecs`, atomically.
    public func write(to path: String) throws {
        try TexmexFormat.writeIvecs(self, to: path)
    }
}
