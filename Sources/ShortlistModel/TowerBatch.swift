/// The inputs of one tower for a batch of rows: each row's id row (or none), and for each of the
/// tower's fields a weighted bag of embedding rows, x₀ = idTable[id] + Σ_f Σ_k w_k · table_f[row_k].
/// Arrays keep their capacity between batches, so a warm batch allocates nothing.
package final class TowerBatch: @unchecked Sendable {
    /// Id row of each batch row; −1: none (an unseen user, a new item, a dropped id).
    private(set) var ids: [Int32] = []
    /// Per field: `offsets` (rows + 1), then `rows` and `weights` of every bag, row after row.
    private(set) var offsets: [[Int32]]
    private(set) var rows: [[Int32]]
    private(set) var weights: [[Float]]

    package init(fieldCount: Int) {
        offsets = Array(repeating: [0], count: fieldCount)
        rows = Array(repeating: [], count: fieldCount)
        weights = Array(repeating: [], count: fieldCount)
    }

    package var count: Int { ids.count }
    var fieldCount: Int { offsets.count }

    package func removeAll() {
        ids.removeAll(keepingCapacity: true)
        for f in 0..<offsets.count {
            offsets[f].removeAll(keepingCapacity: true)
            offsets[f].append(0)
            rows[f].removeAll(keepingCapacity: true)
            weights[f].removeAll(keepingCapacity: true)
        }
    }

    /// Starts a batch row with id row `id` (−1: none). Its bags follow, one `add…` per field in
    /// field order.
    func beginRow(id: Int32) { ids.append(id) }

    /// The bag of field `f` for the current row: each of `bag` with weight 1/count (a mean).
    func addMean<C: Collection>(_ f: Int, _ bag: C) where C.Element == Int32 {
        let w = bag.isEmpty ? 0 : 1 / Float(bag.count)
        for r in bag { rows[f].append(r); weights[f].append(w) }
        offsets[f].append(Int32(rows[f].count))
    }

    /// The bag of field `f` for the current row from a history, oldest first: the latest `length`
    /// items, the k-th latest weighted decay^k, weights summing to 1 (decay 1: a plain mean).
    func addRecent<C: BidirectionalCollection>(_ f: Int, _ history: C, length: Int, decay: Float) where C.Element == Int32 {
        var w: Float = 1, total: Float = 0
        let start = rows[f].count
        for r in history.reversed().prefix(length) {
            rows[f].append(r)
            weights[f].append(w)
            total += w
            w *= decay
        }
        if total > 0 {
            let inverse = 1 / total
            for k in start..<rows[f].count { weights[f][k] *= inverse }
        }
        offsets[f].append(Int32(rows[f].count))
    }

    /// The bag of field `f` for the current row: the one row `r`, weight 1.
    func addSingle(_ f: Int, _ r: Int32) {
        rows[f].append(r)
        weights[f].append(1)
        offsets[f].append(Int32(rows[f].count))
    }
}
