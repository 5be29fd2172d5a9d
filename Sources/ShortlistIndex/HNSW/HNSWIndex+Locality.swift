import ShortlistCore

/// Renumbering rows so that a search touches less memory: after a build, rows are put in the
/// order a breadth-first walk of layer 0 from the entry point meets them, so a node's neighbours
/// mostly sit a few rows away (their rows, codes and link lists share pages and cache lines)
/// instead of anywhere in the index. Answers do not change: ids move with their rows.
extension HNSWIndex {
    /// Rows in breadth-first order over layer 0 from the entry point, each visiting its links in
    /// list order; rows the walk does not reach (deleted, or cut off) follow in row order.
    func breadthFirstOrder() -> [UInt32] {
        let n = rows
        guard n > 0, entryPoint >= 0 else { return (0..<UInt32(n)).map { $0 } }
        var order = [UInt32]()
        order.reserveCapacity(n)
        var seen = [Bool](repeating: false, count: n)
        func visit(_ start: Int) {
            seen[start] = true
            var head = order.count
            order.append(UInt32(start))
            while head < order.count {
                let list = links(Int(order[head]), 0)
                head += 1
                for j in 0..<Int(list[0]) where !seen[Int(list[1 + j])] {
                    seen[Int(list[1 + j])] = true
                    order.append(list[1 + j])
                }
            }
        }
        visit(Int(entryPoint))
        for r in 0..<n where !seen[r] { visit(r) }
        return order
    }

    /// Renumbers every row: new row i is old row `order[i]` (a permutation of 0..<rows). Rows,
    /// codes, links (renamed), levels, tombstones and ids move; searches answer as before, and
    /// `inputRows` follows (when none were recorded, every current row counts as an input row,
    /// as it does right after a build). Needs exclusive access.
    func renumber(_ order: [UInt32]) {
        let n = rows
        precondition(order.count == n)
        guard n > 0 else { return }
        var newRow = [UInt32](repeating: 0, count: n)
        for (i, r) in order.enumerated() { newRow[Int(r)] = UInt32(i) }
        store.permuteRows(order)
        // Layer 0: each list moves to its new row, with its targets renamed.
        let stride = m0 + 1
        let level0New = AlignedMemory.allocate(UInt32.self, count: rowCapacity * stride, repeating: 0)
        let levelsNew = AlignedMemory.allocate(UInt8.self, count: rowCapacity, repeating: 0)
        let tombstonesNew = AlignedMemory.allocate(UInt8.self, count: rowCapacity, repeating: 0)
        for (i, r) in order.enumerated() {
            let from = level0 + Int(r) * stride, to = level0New + i * stride
            to[0] = from[0]
            for j in 0..<Int(from[0]) { to[1 + j] = newRow[Int(from[1 + j])] }
            levelsNew[i] = levels[Int(r)]
            tombstonesNew[i] = tombstones[Int(r)]
        }
        // Upper layers: laid out again in the new row order, lists renamed.
        let oldOffsets = (0..<n).map { upperOffset[$0] }
        let oldUpper = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: max(upperCount, 1))
        oldUpper.baseAddress!.update(from: upperLinks, count: upperCount)
        defer { oldUpper.deallocate() }
        buffers.free(level0)
        buffers.free(levels)
        buffers.free(tombstones)
        level0 = level0New
        levels = levelsNew
        tombstones = tombstonesNew
        for r in 0..<n { upperOffset[r] = -1 }
        upperCount = 0
        layOutUpperLinks(from: 0)
        for (i, r) in order.enumerated() where levels[i] > 0 {
            for level in 1...Int(levels[i]) {
                let from = oldUpper.baseAddress! + Int(oldOffsets[Int(r)]) + (level - 1) * (m + 1), to = links(i, level)
                to[0] = from[0]
                for j in 0..<Int(from[0]) { to[1 + j] = newRow[Int(from[1 + j])] }
            }
        }
        entryPoint = Int32(newRow[Int(entryPoint)])
        inputRows = inputRows.map { $0.map { newRow[Int($0)] } } ?? newRow
        freeRows = nil
        let oldIds = idMap.ids
        do {
            idMap = try IdMap(ids: order.map { oldIds[Int($0)] }, isLive: { tombstonesNew[$0] == 0 })
        } catch {
            preconditionFailure("the live ids were unique before renumbering: \(error)")
        }
    }
}
