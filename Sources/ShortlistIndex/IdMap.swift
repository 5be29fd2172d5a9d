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

    /// True when every row's id equals its row number.
    public var isIdentity: Bool {
        ids.enumerated().allSatisfy { UInt64($0.offset) == $0.element }
    }
}
