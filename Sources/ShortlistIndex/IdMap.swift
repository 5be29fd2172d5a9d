/// The mapping between internal rows (0..<count) and the external 64-bit ids users choose.
public struct IdMap: Sendable, Equatable {
    /// External id of each row.
    public private(set) var ids: [UInt64]
    private var rowOfId: [UInt64: UInt32]

    /// Rows numbered as their own ids: row i has id i.
    public init(identityCount: Int) {
        ids = (0..<UInt64(identityCount)).map { $0 }
        rowOfId = [:]
        rowOfId.reserveCapacity(identityCount)
        for (r, id) in ids.enumerated() { rowOfId[id] = UInt32(r) }
    }

    /// Uses the given ids for rows 0..<ids.count; throws `IndexError.duplicateId` on a repeat.
    public init(ids: [UInt64]) throws {
        self.ids = ids
        rowOfId = [:]
        rowOfId.reserveCapacity(ids.count)
        for (r, id) in ids.enumerated() {
            guard rowOfId.updateValue(UInt32(r), forKey: id) == nil else { throw IndexError.duplicateId(id) }
        }
    }

    /// Number of rows mapped.
    public var count: Int { ids.count }

    /// The external id of `row`.
    @inlinable
    public func id(ofRow row: Int) -> UInt64 { ids[row] }

    /// The row holding `id`, or nil.
    public func row(of id: UInt64) -> Int? { rowOfId[id].map(Int.init) }

    /// The map for a build of `count` rows: the given ids (one per row, unique), or row numbers
    /// when `ids` is nil. Throws `idCountMismatch` or `duplicateId`.
    public init(ids: [UInt64]?, count: Int) throws {
        guard let ids else {
            self.init(identityCount: count)
            return
        }
        guard ids.count == count else { throw IndexError.idCountMismatch(expected: count, actual: ids.count) }
        try self.init(ids: ids)
    }

    /// Maps a new row to `id` and returns the row; throws `IndexError.duplicateId` when `id` is live.
    @discardableResult
    public mutating func append(_ id: UInt64) throws -> Int {
        guard rowOfId[id] == nil else { throw IndexError.duplicateId(id) }
        rowOfId[id] = UInt32(ids.count)
        ids.append(id)
        return ids.count - 1
    }

    /// Forgets `id` (its row keeps the id for reference) and returns the row it had, or nil.
    @discardableResult
    public mutating func remove(_ id: UInt64) -> Int? {
        rowOfId.removeValue(forKey: id).map(Int.init)
    }

    /// Maps the free (deleted) `row` to the new `id`; throws `IndexError.duplicateId` when `id` is live.
    public mutating func reuse(row: Int, for id: UInt64) throws {
        guard rowOfId[id] == nil else { throw IndexError.duplicateId(id) }
        precondition(rowOfId[ids[row]] != UInt32(row), "row \(row) is live")
        ids[row] = id
        rowOfId[id] = UInt32(row)
    }

    /// Forgets `id` and moves the last row's id into its row (for stores that stay dense).
    public mutating func removeMovingLast(_ id: UInt64) {
        guard let row = rowOfId.removeValue(forKey: id).map(Int.init) else { return }
        let lastId = ids.removeLast()
        if row < ids.count {
            ids[row] = lastId
            rowOfId[lastId] = UInt32(row)
        }
    }

    /// Rebuilds the lookup from `ids`, skipping rows for which `isLive` is false.
    public init(ids: [UInt64], isLive: (Int) -> Bool) throws {
        self.ids = ids
        rowOfId = [:]
        rowOfId.reserveCapacity(ids.count)
        for (r, id) in ids.enumerated() where isLive(r) {
            guard rowOfId.updateValue(UInt32(r), forKey: id) == nil else { throw IndexError.duplicateId(id) }
        }
    }

    /// Number of ids currently mapped (live rows).
    public var liveCount: Int { rowOfId.count }

    /// The live ids, in no particular order.
    public var liveIds: [UInt64] { Array(rowOfId.keys) }

    /// Approximate bytes held.
    public var memoryBytes: Int { ids.count * 8 + rowOfId.capacity * 16 }

    /// True when every row's id equals its row number.
    public var isIdentity: Bool {
        ids.enumerated().allSatisfy { UInt64($0.offset) == $0.element }
    }
}
