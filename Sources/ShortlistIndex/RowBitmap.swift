/// A set of an index's rows as one bit per row: the form a filter takes inside a search, so
/// testing a row costs a shift and a mask, and combining two filters costs one pass over
/// `rows / 64` words. Every index kind takes one through `SearchParameters.allowedRows`.
public struct RowBitmap: Sendable, Equatable {
    public private(set) var words: [UInt64]
    /// Rows set.
    public private(set) var count = 0

    /// An empty set over `rows` rows.
    public init(rows: Int) {
        words = [UInt64](repeating: 0, count: (rows + 63) / 64)
    }

    /// Every row of `0..<rows`.
    public init(allRows rows: Int) {
        words = [UInt64](repeating: .max, count: rows / 64)
        if rows % 64 != 0 { words.append((1 << UInt64(rows % 64)) - 1) }
        count = rows
    }

    /// The rows of `rows` (each below `capacity`).
    public init<S: Sequence>(rows capacity: Int, setting rows: S) where S.Element == Int {
        self.init(rows: capacity)
        for r in rows { insert(r) }
    }

    public var rowCapacity: Int { words.count * 64 }
    public var isEmpty: Bool { count == 0 }

    public mutating func insert(_ row: Int) {
        let bit: UInt64 = 1 << UInt64(row & 63)
        if words[row >> 6] & bit == 0 {
            words[row >> 6] |= bit
            count += 1
        }
    }

    public mutating func remove(_ row: Int) {
        guard row < rowCapacity else { return }
        let bit: UInt64 = 1 << UInt64(row & 63)
        if words[row >> 6] & bit != 0 {
            words[row >> 6] &= ~bit
            count -= 1
        }
    }

    public func contains(_ row: Int) -> Bool { row >= 0 && row < rowCapacity && (words[row >> 6] >> UInt64(row & 63)) & 1 != 0 }

    /// Keeps the rows also in `other` (rows past `other`'s capacity are dropped).
    public mutating func formIntersection(_ other: RowBitmap) {
        combine(other) { $0 & $1 }
    }

    /// Adds the rows of `other` (growing to its capacity).
    public mutating func formUnion(_ other: RowBitmap) {
        if other.words.count > words.count { words.append(contentsOf: repeatElement(0, count: other.words.count - words.count)) }
        combine(other) { $0 | $1 }
    }

    /// Removes the rows of `other`.
    public mutating func subtract(_ other: RowBitmap) {
        combine(other) { $0 & ~$1 }
    }

    private mutating func combine(_ other: RowBitmap, _ op: (UInt64, UInt64) -> UInt64) {
        var total = 0
        other.words.withUnsafeBufferPointer { theirs in
            words.withUnsafeMutableBufferPointer { ours in
                for w in 0..<ours.count {
                    ours[w] = op(ours[w], w < theirs.count ? theirs[w] : 0)
                    total += ours[w].nonzeroBitCount
                }
            }
        }
        count = total
    }

    /// The rows set, in increasing order.
    public func forEachRow(_ body: (Int) throws -> Void) rethrows {
        for (w, word) in words.enumerated() where word != 0 {
            var bits = word
            while bits != 0 {
                try body(w * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }
}
