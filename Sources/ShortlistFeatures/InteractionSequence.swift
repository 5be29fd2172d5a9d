/// Each user's interactions in order (by time when the data has timestamps), compressed by user
/// row: user `u` has entries `offsets[u] ..< offsets[u + 1]`; entry `e` is item row `items[e]`
/// with context rows `context[e * contextWidth ..< (e + 1) * contextWidth]` (one row per
/// context field, row 0 when unknown).
public struct InteractionSequence: Sendable, Equatable {
    public var offsets: [Int]
    public var items: [Int32]
    /// Number of context fields per entry.
    public var contextWidth: Int
    /// entries × contextWidth, row-major.
    public var context: [Int32]

    public init(offsets: [Int], items: [Int32], contextWidth: Int, context: [Int32]) {
        precondition(offsets.first == 0 && offsets.last == items.count && context.count == items.count * contextWidth)
        self.offsets = offsets
        self.items = items
        self.contextWidth = contextWidth
        self.context = context
    }

    /// Number of users.
    public var rowCount: Int { offsets.count - 1 }

    /// The entries of user row `u`.
    public func entries(of u: Int) -> Range<Int> { offsets[u]..<offsets[u + 1] }
}
