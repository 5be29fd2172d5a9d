import ShortlistCore

/// Dropping deleted rows from an IVF-PQ index. A delete only marks its row, which stays in its
/// inverted list (scanned, then skipped) and in memory; compaction rewrites the lists without
/// them and renumbers the live rows densely. Nothing is retrained or re-encoded: codes are
/// copied, so answers are unchanged.
extension IVFPQIndex {
    /// A new index holding the live rows only (same quantizers, codes, ids and settings).
    public func compacted() throws -> IVFPQIndex {
        // Live rows in row order get the new row numbers 0, 1, 2, …
        var newRow = [Int32](repeating: -1, count: rows)
        var ids: [UInt64] = []
        ids.reserveCapacity(count)
        for r in 0..<rows where tombstones[r] == 0 {
            newRow[r] = Int32(ids.count)
            ids.append(idMap.id(ofRow: r))
        }
        let m = pq.m
        var codes = [[UInt8]](repeating: [], count: listRows.count)
        var rowsOfList = [[UInt32]](repeating: [], count: listRows.count)
        var code = [UInt8](repeating: 0, count: m)
        for l in listRows.indices {
            listCodes[l].withUnsafeBufferPointer { packed in
                for (p, r) in listRows[l].enumerated() where newRow[Int(r)] >= 0 {
                    if pq.bits == 4 {
                        for j in 0..<m { code[j] = FastScanLayout.value(packed.baseAddress!, m: m, position: p, sub: j) }
                        code.withUnsafeBufferPointer { FastScanLayout.append($0.baseAddress!, m: m, position: rowsOfList[l].count, to: &codes[l]) }
                    } else {
                        codes[l].append(contentsOf: packed[p * m..<(p + 1) * m])
                    }
                    rowsOfList[l].append(UInt32(newRow[Int(r)]))
                }
            }
        }
        var kept: VectorMatrix?
        if let vectors {
            let v = try VectorMatrix(count: ids.count, dimension: dimension)
            for r in 0..<rows where newRow[r] >= 0 { v.row(Int(newRow[r])).update(from: vectors.row(r), count: dimension) }
            kept = v
        }
        return try IVFPQIndex(metric: metric, dimension: dimension, configuration: configuration, rotation: rotation, centroids: centroids,
                              pq: pq, listCodes: codes, listRows: rowsOfList, vectors: kept,
                              tombstones: [UInt8](repeating: 0, count: ids.count), idMap: try IdMap(ids: ids))
    }
}
