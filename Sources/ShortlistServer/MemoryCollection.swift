import Foundation
import Logging
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
import Synchronization

/// A collection in memory: an index, the payloads of its items (with their field indexes) and
/// the recommender that embeds users for it. Searches run concurrently under the read side of a
/// writer-preferring lock; upserts and deletes take the write side, one at a time, so a search
/// never sees half a write, and a search that starts after a write's reply sees it.
/// `ServedCollection` adds what makes it durable: its files, the write-ahead log, snapshots.
public class MemoryCollection: @unchecked Sendable {
    public let name: String
    /// The index. Replaced by compaction (under the write lock): read it only under the lock.
    var index: any MutableVectorIndex {
        didSet { generation &+= 1 }
    }
    var payloads: PayloadStore {
        didSet { generation &+= 1 }
    }
    let lock = ReadWriteLock()
    /// Changes applied since loading (each write, and each replayed log record).
    let changes = Atomic<UInt64>(0)
    /// Where background problems and load notices are reported (besides `stats`); default the
    /// server's log (swift-log, label "shortlist"), as warnings.
    var report: @Sendable (String) -> Void = { message in
        Logger(label: "shortlist").warning("\(message)")
    }
    let recommender: Recommender?
    /// The index file the collection was loaded from (nil: built in memory).
    let loadedFrom: String?
    /// The knob settings `shortlist tune` measured, stored in the index file (nil: not tuned).
    let tuning: TuningTable?

    /// Row bitmaps of the payload postings filters used, valid for one `generation`.
    let rowCache = PayloadRowCache()
    /// Changes whenever rows or payloads may have changed (every write, every compaction): the
    /// key of `rowCache`. Written under the write lock, read under the read lock.
    var generation: UInt64 = 0

    /// A collection whose index holds at least this many deleted rows (default 1,024)…
    var compactionMinimumDeadRows = 1_024
    /// …and at least this share of its rows deleted (default 0.25) is compacted: IVF-PQ's lists
    /// are rewritten at once (O(rows), no retraining); HNSW is rebuilt in the background from its
    /// live vectors while searches and writes go on, then swapped in. (HNSW reuses deleted rows
    /// for new vectors, so only net deletions leave rows to compact; a flat index never has any.)
    var compactionDeadFraction = 0.25
    /// Writes made while a background rebuild runs, applied to the rebuilt index before it is
    /// swapped in (nil: no rebuild running). Touched under the write lock.
    var journal: [WriteAheadLog.Record]?
    /// Test hook: runs on the rebuild's thread before it builds.
    var beforeRebuild: (() -> Void)?
    /// What compaction has done (`compactions`).
    let compactionRecord = Mutex(CompactionRecord())

    /// A collection of `index`, `payloads` (by id) and, for `recommend`, `recommender`.
    init(name: String, index: any MutableVectorIndex, payloads: PayloadStore, recommender: Recommender?, tuning: TuningTable?, loadedFrom: String?) {
        self.name = name
        self.loadedFrom = loadedFrom
        self.index = index
        self.payloads = payloads
        self.recommender = recommender
        self.tuning = tuning
        metric = index.metric
        dimension = index.dimension
        spec = index.spec.description
        kind = index is FlatIndex ? "flat" : index is HNSWIndex ? "hnsw" : "ivfpq"
        batchesWell = !(index is HNSWIndex)
    }

    // MARK: What it holds

    public let metric: Metric
    public let dimension: Int
    public var count: Int { lock.reading { index.count } }
    /// Rows the index holds, live and deleted.
    var rows: Int { lock.reading { index.rowIds.count } }
    public let spec: String
    public let kind: String
    /// Whether searching several queries together beats one at a time (flat: one matrix
    /// product; IVF: shared coarse-quantizer products). HNSW walks each query alone anyway.
    let batchesWell: Bool
    var payloadCount: Int { lock.reading { payloads.count } }
    /// The payloads' fields with their inferred types (`info`).
    var payloadFields: [String: PayloadIndex.FieldSummary] { lock.reading { payloads.fields.summary() } }
    var memoryBytes: Int { lock.reading { index.memoryBytes + payloads.values.reduce(0) { $0 + $1.count + 32 } } }
    // MARK: Searching

    /// The knobs for a request: as given, or for `targetRecall` the fastest tuned setting that
    /// reached it.
    func searchParameters(_ given: SearchParameters, targetRecall: Double?) throws -> SearchParameters {
        guard let targetRecall else { return given }
        guard given.ef == nil, given.nprobe == nil, given.rerank == nil else {
            throw ProtocolError(.invalidRequest, "give params.target_recall or the knobs (ef, nprobe, rerank), not both")
        }
        guard let tuning else {
            throw ProtocolError(.unsupported, "collection '\(name)' has not been tuned; run `shortlist tune --index \(loadedFrom ?? "INDEX") …` first")
        }
        guard let entry = tuning.parameters(forRecall: targetRecall) else {
            throw ProtocolError(.invalidParameter, String(format: "no tuned setting of collection '%@' reached recall %.4f (the best reached %.4f)", name, targetRecall, tuning.bestRecall))
        }
        return entry.parameters
    }

    /// Which items a search may return.
    struct Filter {
        var exclude: Set<UInt64> = []
        var include: Set<UInt64>?
        /// Conditions on payload fields and ids, evaluated against the payload indexes.
        var payload: PayloadFilter?
        var isEmpty: Bool { exclude.isEmpty && include == nil && payload == nil }
    }

    /// The best `k` items for `query` that pass `filter`, best first; with a filter, never fewer
    /// than k when k items pass it.
    func search(_ query: [Float], k: Int, parameters: SearchParameters, filter: Filter, withPayload: Bool) throws -> [Hit] {
        try lock.reading {
            hits(try filteredSearch(query, k: k, parameters: parameters, filter: filter), withPayload: withPayload)
        }
    }

    /// Wire hits (score, payload) for neighbours; call under the lock.
    func hits(_ found: [Neighbor], withPayload: Bool) -> [Hit] {
        found.map { Hit(id: $0.id, score: index.metric.score(fromDistance: $0.distance), payload: withPayload ? payloads[$0.id] : nil) }
    }

    /// `search` for every row of `queries` (`count × dimension`), under one lock acquisition.
    func searchBatch(_ queries: [Float], count: Int, k: Int, parameters: SearchParameters, filter: Filter, withPayload: Bool) throws -> [[Hit]] {
        try lock.reading {
            guard queries.count == count * index.dimension else {
                throw ProtocolError(.dimensionMismatch, "the collection holds \(index.dimension)-dimensional vectors; these have \(queries.count / max(count, 1))")
            }
            var out: [[Hit]] = []
            out.reserveCapacity(count)
            // Unfiltered rows go through the index's batch search: one matrix product against a
            // flat index, one coarse-quantizer product per 64 queries for IVF. A bad row there
            // fails the batch; the loop below then names it.
            if filter.isEmpty && count > 1 && batchesWell,
               let matrix = try? VectorMatrix(dimension: index.dimension, values: queries),
               let found = try? index.search(matrix, k: k, parameters: parameters, threads: 1) {
                for q in 0..<count { out.append(hits(found[q], withPayload: withPayload)) }
                return out
            }
            var filtered = parameters
            if !filter.isEmpty { filtered.allowedRows = try allowedRows(filter) }
            for q in 0..<count {
                let v = Array(queries[q * index.dimension..<(q + 1) * index.dimension])
                do {
                    out.append(hits(try index.search(v, k: k, parameters: filtered), withPayload: withPayload))
                } catch let e as VectorError {
                    var p = ProtocolError.from(e)
                    p.message = "vectors[\(q)]: " + p.message
                    throw p
                }
            }
            return out
        }
    }

    /// The stored vector of `itemId`, to search around it (`similar`).
    func vector(of itemId: UInt64) throws -> [Float] {
        guard let v = lock.reading({ index.storedVector(id: itemId) }) else {
            throw ProtocolError(.notFound, "collection '\(name)' has no item with id \(itemId)")
        }
        return v
    }

    /// The rows `filter` allows: the payload conditions' rows (from cached posting bitmaps), ∩
    /// `include_ids`, − `exclude_ids`. Call under the lock: rows are valid until the next write.
    func allowedRows(_ filter: Filter) throws -> RowBitmap {
        let rows = index.rowCount
        var allowed: RowBitmap
        if let condition = filter.payload {
            do {
                allowed = try payloads.fields.rows(passing: condition, rows: rows, row: index.row(of:), cache: rowCache, generation: generation)
            } catch let e as PayloadIndex.FilterError {
                throw ProtocolError(.invalidParameter, "filter: \(e)")
            }
            if let include = filter.include { allowed.formIntersection(index.rowBitmap(of: include)) }
        } else if let include = filter.include {
            allowed = index.rowBitmap(of: include)
        } else {
            allowed = RowBitmap(allRows: rows)
        }
        for id in filter.exclude { if let row = index.row(of: id) { allowed.remove(row) } }
        return allowed
    }

    /// The index's search with the filter as `allowedRows`: the index plans how to reach the
    /// allowed rows and returns k hits whenever k of them are live.
    func filteredSearch(_ q: [Float], k: Int, parameters: SearchParameters, filter: Filter) throws -> [Neighbor] {
        guard !filter.isEmpty else { return try index.search(q, k: k, parameters: parameters) }
        var p = parameters
        p.allowedRows = try allowedRows(filter)
        return try index.search(q, k: k, parameters: p)
    }

    // MARK: Changes

    /// Inserts or replaces `points` (all checked first: one bad point changes nothing). A point
    /// without a payload drops any payload its id had. `record` runs under the write lock once
    /// the points are checked and before any is applied (a log append: if it throws, nothing
    /// changes); its result is returned.
    func upsert<R>(_ points: [Request.Point], recording record: ([WriteAheadLog.Record]) throws -> R) throws -> R {
        return try lock.writing {
            var seen = Set<UInt64>()
            for (i, p) in points.enumerated() {
                guard seen.insert(p.id).inserted else { throw ProtocolError(.invalidRequest, "points[\(i)]: id \(p.id) appears twice in one upsert") }
                do { try index.validate(p.vector) } catch {
                    var e = ProtocolError.from(error)
                    e.message = "points[\(i)]: " + e.message
                    throw e
                }
            }
            // Recorded first: if the log cannot take it (disk full), nothing changes.
            let recorded = try record(points.map { .upsert(id: $0.id, vector: $0.vector, payload: $0.payload) })
            for p in points {
                try index.upsert(p.vector, id: p.id)
                payloads[p.id] = p.payload
                journal?.append(.upsert(id: p.id, vector: p.vector, payload: nil))
            }
            changes.add(1, ordering: .releasing)
            compactIfDue()
            return recorded
        }
    }

    /// Deletes the live ids among `ids` (each id once), recorded first as in `upsert` (not at
    /// all when none is live); returns how many were deleted, the ids that were not live, and
    /// what `record` returned.
    func delete<R>(_ ids: [UInt64], recording record: ([WriteAheadLog.Record]) throws -> R?) throws -> (deleted: Int, missing: [UInt64], recorded: R?) {
        try lock.writing {
            var missing: [UInt64] = []
            var live: [UInt64] = []
            var seen = Set<UInt64>()
            for id in ids where seen.insert(id).inserted {
                if index.contains(id: id) { live.append(id) } else { missing.append(id) }
            }
            let recorded = live.isEmpty ? nil : try record(live.map { .delete(id: $0) })
            for id in live {
                try index.delete(id: id)
                payloads[id] = nil
                journal?.append(.delete(id: id))
            }
            if !live.isEmpty {
                changes.add(1, ordering: .releasing)
                compactIfDue()
            }
            return (live.count, missing, recorded)
        }
    }

    /// Stored vectors and payloads of `ids` (nil entries for ids that are not live).
    func get(_ ids: [UInt64]) -> [StoredPoint?] {
        lock.reading {
            ids.map { id in index.storedVector(id: id).map { StoredPoint(id: id, vector: $0, payload: payloads[id]) } }
        }
    }
}
