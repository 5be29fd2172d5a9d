import ShortlistFeatures

extension InteractionSequence {
    /// The rows of `matrix` in column order, without context.
    public init(_ matrix: InteractionMatrix) {
        self.init(offsets: matrix.offsets, items: matrix.columns, contextWidth: 0, context: [])
    }

    /// This sequence with each user's items of `more` appended after their own (e.g. the
    /// validation items after the training ones, for a test-time history); context is dropped.
    public func appending(_ more: InteractionMatrix) -> InteractionSequence {
        precondition(more.rowCount == rowCount)
        var offsets = [0], items: [Int32] = []
        items.reserveCapacity(self.items.count + more.count)
        for u in 0..<rowCount {
            items.append(contentsOf: self.items[entries(of: u)])
            items.append(contentsOf: more.items(of: u))
            offsets.append(items.count)
        }
        return InteractionSequence(offsets: offsets, items: items, contextWidth: 0, context: [])
    }
}
