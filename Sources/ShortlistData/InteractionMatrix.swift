import ShortlistCore

/// Binary user × item interactions in compressed-row form: for user row `u`, the item rows
/// `columns[offsets[u] ..< offsets[u + 1]]`, sorted ascending and without duplicates.
public struct InteractionMatrix: Sendable, Equatable {
    /// Number of user rows.
    public let rowCount: Int
    /// `rowCount + 1` offsets into `columns`.
    public let offsets: [Int]
    /// Item rows, grouped by user.
    public let columns: [Int32]

    /// Builds the matrix from (user row, item row) pairs in any order; duplicates collapse.
    public init(rowCount: Int, users: [Int32], items: [Int32]) {
        precondition(users.count == items.count)
        var counts = [Int](repeating: 0, count: rowCount + 1)
        for u in users { counts[Int(u) + 1] += 1 }
        for r in 0..<rowCount { counts[r + 1] += counts[r] }
        var fill = counts
        var cols = [Int32](repeating: 0, count: users.count)
        for (u, i) in zip(users, items) {
            cols[fill[Int(u)]] = i
            fill[Int(u)] += 1
        }
        // Sort and de-duplicate each row, compacting in place.
        var offsets = [Int](repeating: 0, count: rowCount + 1)
        var write = 0
        for r in 0..<rowCount {
            let start = counts[r], end = counts[r + 1]
            cols[start..<end].sort()
            offsets[r] = write
            var previous: Int32 = -1
            for j in start..<end where cols[j] != previous {
                previous = cols[j]
                cols[write] = previous
                write += 1
            }
        }
        offsets[rowCount] = write
        cols.removeLast(cols.count - write)
        self.rowCount = rowCount
        self.offsets = offsets
        self.columns = cols
    }

    /// Total number of (user, item) pairs.
    public var count: Int { columns.count }

    /// The item rows of user row `u`, sorted.
    public func items(of u: Int) -> ArraySlice<Int32> { columns[offsets[u]..<offsets[u + 1]] }

    /// Number of items of user row `u`.
    public func degree(of u: Int) -> Int { offsets[u + 1] - offsets[u] }

    /// Whether user row `u` has item row `item` (binary search).
    public func contains(user u: Int, item: Int32) -> Bool {
        var lo = offsets[u], hi = offsets[u + 1]
        while lo < hi {
            let mid = (lo + hi) / 2
            if columns[mid] < item { lo = mid + 1 } else { hi = mid }
        }
        return lo < offsets[u + 1] && columns[lo] == item
    }

    /// Number of times each item row occurs, for `itemCount` items.
    public func itemFrequencies(itemCount: Int) -> [Int] {
        var f = [Int](repeating: 0, count: itemCount)
        for i in columns { f[Int(i)] += 1 }
        return f
    }

    /// The same rows for a seeded sample of at most `count` of the rows that have items; the
    /// other rows are emptied (e.g. to score a tuning trial on fewer validation users).
    public func sampledRows(_ count: Int, seed: UInt64) -> InteractionMatrix {
        var rows = (0..<rowCount).filter { degree(of: $0) > 0 }
        guard rows.count > count else { return self }
        var g = SeededGenerator(seed: seed)
        rows.shuffle(using: &g)
        var users: [Int32] = [], items: [Int32] = []
        for u in rows.prefix(count) {
            for i in self.items(of: u) { users.append(Int32(u)); items.append(i) }
        }
        return InteractionMatrix(rowCount: rowCount, users: users, items: items)
    }

    /// The union of two matrices with the same rows (e.g. train + valid, for masking).
    public func union(_ other: InteractionMatrix) -> InteractionMatrix {
        precondition(rowCount == other.rowCount)
        var users: [Int32] = [], items: [Int32] = []
        users.reserveCapacity(count + other.count)
        items.reserveCapacity(count + other.count)
        for m in [self, other] {
            for u in 0..<rowCount {
                for i in m.items(of: u) { users.append(Int32(u)); items.append(i) }
            }
        }
        return InteractionMatrix(rowCount: rowCount, users: users, items: items)
    }
}
