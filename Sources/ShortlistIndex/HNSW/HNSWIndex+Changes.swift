import CShortlistKernels
import Foundation
import ShortlistCore
import Synchronization

/// Adds, deletes, stored vectors and compaction.
extension HNSWIndex {
    /// Adds one vector with external id `id` (which must not be live), linking it into the graph.
    /// A deleted row is reused when there is one (hnswlib's "replace deleted"): its vector and
    /// outgoing links are replaced and it is linked in again at its level, so a stream of
    /// upserts and deletes does not grow the graph past its largest live count.
    public func add(_ vector: [Float], id: UInt64) throws {
        guard idMap.row(of: id) == nil else { throw IndexError.duplicateId(id) }
        guard vector.count == dimension else { throw VectorError.dimensionMismatch(expected: dimension, actual: vector.count) }
        try vector.withUnsafeBufferPointer { try VectorMath.validateFinite($0) }
        var stored = vector
        if metric == .cosine { try stored.withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: dimension) } }
        var norm: Float = 0
        if metric == .ip {
            norm = sk_ip(stored, stored, dimension).squareRoot()
            stored.append(max(0, ipMaxNorm * ipMaxNorm - norm * norm).squareRoot())
        }
        if let row = takeFreeRow() {
            try idMap.reuse(row: row, for: id)
            tombstones[row] = 0
            deletedCount -= 1
            // Its old lists go; links other nodes still hold to it now lead to the new vector.
            links(row, 0)[0] = 0
            for l in stride(from: 1, through: Int(levels[row]), by: 1) { links(row, l)[0] = 0 }
            store.setRow(row, from: stored)
            if metric == .ip && norm > ipMaxNorm { setInnerProductNorm(norm * 1.1) }
            insert(row)
            return
        }
        guard rows + 1 < Int(UInt32.max) else { throw IndexError.tooManyRows(rows + 1) }
        let row = rows
        reserveRows(row + 1)
        try idMap.append(id)
        _ = store.appendRows(1)
        store.setRow(row, from: stored)
        // A larger norm than any seen moves M for every row (rare: M grows with headroom).
        if metric == .ip && norm > ipMaxNorm { setInnerProductNorm(norm * 1.1) }
        levels[row] = UInt8(level(forRow: row))
        layOutUpperLinks(from: row)
        try build(rows: row..<row + 1, threads: 1, progress: nil)
        store.refitCodesIfClamped()
    }

    /// A deleted row to reuse, or nil. The entry point is never reused (the graph is entered there).
    private func takeFreeRow() -> Int? {
        guard deletedCount > 0 else { return nil }
        if freeRows == nil { freeRows = (0..<rows).filter { tombstones[$0] != 0 } }
        while let row = freeRows!.popLast() {
            if row != Int(entryPoint) && tombstones[row] != 0 { return row }
        }
        return nil
    }

    /// Deletes the vector with external id `id`: it never appears in results again. Its row stays
    /// in the graph (as a waypoint) until `compacted()` rebuilds without it.
    public func delete(id: UInt64) throws {
        guard let row = idMap.remove(id) else { throw IndexError.unknownId(id) }
        tombstones[row] = 1
        deletedCount += 1
        freeRows?.append(row)
    }

    public var liveIds: [UInt64] { idMap.liveIds }
    public func row(of id: UInt64) -> Int? { idMap.row(of: id) }
    public var rowIds: [UInt64] { idMap.ids }

    public var inputIds: [UInt64] {
        guard let inputRows else { return idMap.ids }
        return inputRows.map { idMap.ids[Int($0)] }
    }

    /// Whether `id` is live in the index.
    public func contains(id: UInt64) -> Bool { idMap.row(of: id) != nil }

    public func storedVector(id: UInt64) -> [Float]? {
        guard let row = idMap.row(of: id) else { return nil }
        var out = [Float](repeating: 0, count: storedDimension)
        out.withUnsafeMutableBufferPointer { store.readRow(row, into: $0.baseAddress!) }
        if storedDimension > dimension { out.removeLast(storedDimension - dimension) }
        return out
    }

    /// A new index over the live vectors only (same settings and ids), reclaiming deleted rows' memory.
    public func compacted(threads: Int = 1, progress: ProgressHandler? = nil) throws -> HNSWIndex {
        let (vectors, ids) = try liveVectors()
        return try HNSWIndex(metric: metric, vectors: vectors, ids: ids, configuration: configuration, threads: threads, progress: progress)
    }

    /// The live vectors (`count × dimension`, as `storedVector` gives them) and their ids, in row
    /// order: a copy to rebuild from while the index goes on changing.
    public func liveVectors() throws -> (vectors: VectorMatrix, ids: [UInt64]) {
        let live = (0..<rows).filter { tombstones[$0] == 0 }
        let input = try VectorMatrix(count: live.count, dimension: dimension)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: storedDimension) { row in
            for (i, r) in live.enumerated() {
                store.readRow(r, into: row.baseAddress!)
                input.row(i).update(from: row.baseAddress!, count: dimension)
            }
        }
        return (input, live.map { idMap.id(ofRow: $0) })
    }
}
