/// A set of an index's rows as one bit per row: the form a filter takes inside a search, so
/// testing a row costs a shift and a mask.
public struct RowBitmap: Sendable, Equatable {
    public private(set) var words: [UInt64]
    /// Rows set.
    public private(set) var count = 0

    /// An empty set over `rows` rows.
    public init(rows: Int) {
        words = [UInt64](repeating: 0, count: (rows + 63) / 64)
    }

    public var rowCapacity: Int { words.count * 64 }

    public mutating func insert(_ row: Int) {
        let bit: UInt64 = 1 << UInt64(row & 63)
        if words[row >> 6] & bit == 0 {
            words[row >> 6] |= bit
            count += 1
        }
    }

    public func contains(_ row: Int) -> Bool { row < rowCapacity && (words[row >> 6] >> UInt64(row & 63)) & 1 != 0 }
}
