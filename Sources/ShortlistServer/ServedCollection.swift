import Foundation
import Logging
import ShortlistCore
import ShortlistProtocol
import ShortlistIndex
import Synchronization

/// A named index the server answers for, with optional payloads (arbitrary JSON per id) and an
/// optional recommender (user tower). Searches run concurrently under the read side of a
/// writer-preferring lock; upserts and deletes take the write side, one at a time, so a search
/// never sees half a write, and a search that starts after a write's reply sees it.
///
/// Files: the server writes only the index file and files of its own beside it
/// (`INDEX.payloads.jsonl`, `INDEX.wal`, `INDEX.wal.<n>`, temporaries `*.tmp-*`). A payload file
/// named with `payloads=FILE` is read, never written.
public final class ServedCollection: @unchecked Sendable {
    public let name: String
    /// Where `save` writes the index.
    public let indexPath: String
    /// Where `save` writes the payloads (`INDEX.payloads.jsonl`, one `{"id":…,"payload":…}` per
    /// line): the server's own file, never the one named with `payloads=`.
    public let payloadPath: String
    /// The payload file read at start-up (nil: none): the server's own once it exists,
    /// otherwise the `payloads=` file.
    public let payloadSource: String?
    /// The index. Replaced by compaction (under the write lock): read it only under the lock.
    private var index: any MutableVectorIndex {
        didSet { generation &+= 1 }
    }
    private var payloads: PayloadStore {
        didSet { generation &+= 1 }
    }
    private let lock = ReadWriteLock()
    /// Changes applied since loading (writes and replayed records), and how many of them the
    /// newest durable snapshot holds: dirty while they differ.
    private let changes = Atomic<UInt64>(0)
    private let savedChanges = Atomic<UInt64>(0)
    /// One snapshot at a time; a `save` that finds one running waits, then returns at once if
    /// that snapshot already holds every change made before it was asked for.
    private let snapshotMutex = NSLock()
    private let snapshotRecord = Mutex(SnapshotRecord())
    /// Test hook: runs in `save` after the copy is taken, before any file is written.
    var afterSnapshotCopy: (() -> Void)?
    /// Where background-snapshot problems and load notices are reported (besides `stats`);
    /// default the server's log (swift-log, label "shortlist"), as warnings.
    var report: @Sendable (String) -> Void = { message in
        Logger(label: "shortlist").warning("\(message)")
    }
    let recommender: Recommender?
    /// The knob settings `shortlist tune` measured, stored in the index file (nil: not tuned).
    let tuning: TuningTable?
    /// The write-ahead log (nil for a collection changed only in memory until `save`).
    private let log: WriteAheadLog?
    /// What replaying the log found at start-up.
    public private(set) var replayed = WriteAheadLog.ReplayReport()
    /// `save` runs by itself once the log passes this many bytes (default 64 MiB).
    let snapshotLogBytes: Int
    private let snapshotRunning = Atomic<Bool>(false)
    private static let snapshotQueue = DispatchQueue(label: "shortlist.snapshots")

    /// Row bitmaps of the payload postings filters used, valid for one `generation`.
    private let rowCache = PayloadRowCache()
    /// Changes whenever rows or payloads may have changed (every write, every compaction): the
    /// key of `rowCache`. Written under the write lock, read under the read lock.
    private var generation: UInt64 = 0

    /// How a collection is described on the command line and in `info`.
    public struct Description: Sendable, Equatable {
        public var name: String
        public var indexPath: String
        /// A payload file to read at start-up when the server's own (`INDEX.payloads.jsonl`)
        /// does not exist yet. Read only: `save` writes the server's own file.
        public var payloadPath: String?
        /// A model folder from `shortlist train` (enables `recommend`).
        public var modelDirectory: String?

        public init(name: String, indexPath: String, payloadPath: String? = nil, modelDirectory: String? = nil) {
            self.name = name
            self.indexPath = indexPath
            self.payloadPath = payloadPath
            self.modelDirectory = modelDirectory
        }

        /// Parses `NAME=INDEX[,payloads=FILE][,model=DIR]`.
        public init(parsing text: String) throws {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw CollectionError.invalidDescription(text, reason: "expected NAME=INDEX[,payloads=FILE][,model=DIR]")
            }
            let name = String(text[..<eq])
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                throw CollectionError.invalidDescription(text, reason: "a name uses letters, digits, '_', '-' and '.'")
            }
            var parts = text[text.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard let index = parts.first, !index.isEmpty else { throw CollectionError.invalidDescription(text, reason: "no index path") }
            parts.removeFirst()
            self.init(name: name, indexPath: index)
            for part in parts {
                if part.hasPrefix("payloads=") { payloadPath = String(part.dropFirst(9)) }
                else if part.hasPrefix("model=") { modelDirectory = String(part.dropFirst(6)) }
                else { throw CollectionError.invalidDescription(text, reason: "unknown option '\(part)' (payloads=FILE, model=DIR)") }
            }
        }
    }

    /// Loads the index (verified), the payload file if it exists, and the model if named. With a
    /// `durability` mode, replays the write-ahead log at INDEX.wal on top of the index and keeps
    /// logging every change there (see `WriteAheadLog`); without, changes live in memory until
    /// `save`.
    public init(_ d: Description, durability: WriteAheadLog.SyncMode? = nil, groupCommit: Bool = true, snapshotLogBytes: Int = 64 << 20) throws {
        name = d.name
        indexPath = d.indexPath
        payloadPath = d.indexPath + ".payloads.jsonl"
        let loaded = try IndexLoader.loadTuned(path: d.indexPath)
        Self.removeStaleTemporaries(of: [d.indexPath, d.indexPath + ".payloads.jsonl"])
        guard let index = loaded.index as? any MutableVectorIndex else {
            throw CollectionError.invalidDescription(d.indexPath, reason: "this index kind cannot be served")
        }
        self.index = index
        metric = index.metric
        dimension = index.dimension
        spec = index.spec.description
        kind = index is FlatIndex ? "flat" : index is HNSWIndex ? "hnsw" : "ivfpq"
        batchesWell = !(index is HNSWIndex)
        tuning = loaded.tuning
        // The server's own payload file holds the state of the last save, so it wins over the
        // file it was first seeded from.
        let exists = { (p: String) in FileManager.default.fileExists(atPath: p) }
        payloadSource = exists(payloadPath) ? payloadPath : d.payloadPath.flatMap { exists($0) ? $0 : nil }
        if let named = d.payloadPath, payloadSource == nil, !exists(named) {
            throw CollectionError.invalidDescription(d.name, reason: "payload file \(named) does not exist")
        }
        payloads = PayloadStore(try payloadSource.map { try PayloadFile.read(path: $0) } ?? [:])
        var notice: String?
        if let named = d.payloadPath, payloadSource == payloadPath, named != payloadPath {
            notice = "collection '\(d.name)': reading payloads from \(payloadPath), written by an earlier save; \(named) seeded it and is no longer read"
        }
        if let dir = d.modelDirectory {
            let r = try Recommender(directory: dir)
            guard r.dimension == index.dimension else {
                throw CollectionError.invalidDescription(d.name, reason: "the model's vectors have \(r.dimension) components; the index's \(index.dimension)")
            }
            do { try r.verify(index) } catch {
                throw CollectionError.invalidDescription(d.name, reason: "\(error)")
            }
            // The model folder's item payloads (titles, categories) stand in for payloads the
            // collection does not have.
            for (id, payload) in r.payloads where payloads[id] == nil && index.contains(id: id) { payloads[id] = payload }
            recommender = r
        } else {
            recommender = nil
        }
        self.snapshotLogBytes = snapshotLogBytes
        if let durability {
            let path = d.indexPath + ".wal"
            var payloads = self.payloads
            do {
                replayed = try WriteAheadLog.replay(path: path) { record in
                    switch record {
                    case let .upsert(id, vector, payload):
                        try index.upsert(vector, id: id)
                        payloads[id] = payload
                    case let .delete(id):
                        if index.contains(id: id) { try index.delete(id: id) }
                        payloads[id] = nil
                    }
                }
            } catch let e as CollectionError {
                throw e
            } catch {
                throw CollectionError.invalidDescription(d.name, reason: "replaying \(path): \(error)")
            }
            self.payloads = payloads
            log = try WriteAheadLog(path: path, mode: durability, groupCommit: groupCommit)
            changes.store(UInt64(replayed.records), ordering: .releasing)
        } else {
            log = nil
        }
        // Payloads of ids the collection does not hold: in a file the user named, a mistake to
        // report; in the server's own file, the state of a save cut short between the index and
        // the payloads (the log replay above has set every logged id), dropped.
        let orphans = payloads.keys.filter { !index.contains(id: $0) }
        if !orphans.isEmpty {
            if let source = payloadSource, source != payloadPath {
                throw CollectionError.invalidDescription(d.name, reason: "\(source) has payloads for \(orphans.count) id\(orphans.count == 1 ? "" : "s") the index does not hold (such as \(orphans.min()!))")
            }
            for id in orphans { payloads[id] = nil }
            notice = (notice.map { $0 + "; " } ?? "") + "collection '\(d.name)': dropped \(orphans.count) payload\(orphans.count == 1 ? "" : "s") of ids the index does not hold"
        }
        if let notice { report(notice) }
    }

    /// Deletes temporaries (`FILE.tmp-<pid>-<hex>`) that a save killed mid-way left beside `files`.
    private static func removeStaleTemporaries(of files: [String]) {
        for file in files {
            let url = URL(fileURLWithPath: file)
            let dir = url.deletingLastPathComponent().path
            let prefix = url.lastPathComponent + ".tmp-"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(prefix) {
                let parts = name.dropFirst(prefix.count).split(separator: "-")
                guard parts.count == 2, let pid = Int32(parts[0]), UInt64(parts[1], radix: 16) != nil else { continue }
                // A temporary of a live process (another server on the same files) is left alone.
                if pid != getpid() && kill(pid, 0) == 0 { continue }
                unlink((dir as NSString).appendingPathComponent(name))
            }
        }
    }

    /// Bytes in the write-ahead log (0 without one).
    var logBytes: Int { log?.size ?? 0 }

    /// What the snapshots of this collection have done (for `stats`).
    struct SnapshotRecord: Sendable {
        var completed = 0
        var failed = 0
        /// The last failure's message (cleared by the next success).
        var lastError: String?
        /// Milliseconds the last snapshot held writers off (the copy) and took in all.
        var lastCopyMilliseconds = 0.0
        var lastTotalMilliseconds = 0.0
    }

    var snapshots: SnapshotRecord { snapshotRecord.withLock { $0 } }

    // MARK: Description

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
    /// True when the collection changed since it was loaded or last saved.
    public var isDirty: Bool { changes.load(ordering: .acquiring) != savedChanges.load(ordering: .acquiring) }

    // MARK: Searching

    /// The knobs for a request: as given, or for `targetRecall` the fastest tuned setting that
    /// reached it.
    func searchParameters(_ given: SearchParameters, targetRecall: Double?) throws -> SearchParameters {
        guard let targetRecall else { return given }
        guard given.ef == nil, given.nprobe == nil, given.rerank == nil else {
            throw ProtocolError(.invalidRequest, "give params.target_recall or the knobs (ef, nprobe, rerank), not both")
        }
        guard let tuning else {
            throw ProtocolError(.unsupported, "collection '\(name)' has not been tuned; run `shortlist tune --index \(indexPath) …` first")
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

    /// One result with its payload when asked for.
    struct Hit {
        var id: UInt64
        var score: Float
        var payload: [UInt8]?
    }

    /// The best `k` items for `query` that pass `filter`, best first; with a filter, never fewer
    /// than k when k items pass it.
    func search(_ query: [Float], k: Int, parameters: SearchParameters, filter: Filter, withPayload: Bool) throws -> [Hit] {
        try lock.reading {
            hits(try filteredSearch(query, k: k, parameters: parameters, filter: filter), withPayload: withPayload)
        }
    }

    /// Hits re-ranked (`Reranker`): `rerank.candidates` (at least k; default 100 with diversity
    /// or a group limit, else k) are retrieved with `filter`, their scores raised or lowered by
    /// the boosts of their payload values, then chosen by MMR over the stored vectors (similarity
    /// in the collection's metric) and the group limit. Scores in the reply are the boosted ones.
    func searchReranked(_ query: [Float], k: Int, parameters: SearchParameters, filter: Filter, withPayload: Bool,
                        rerank: QueryOptions.Rerank, maximumCandidates: Int) throws -> [Hit] {
        try lock.reading {
            let pool = min(maximumCandidates, max(k, rerank.candidates ?? (rerank.lambda != nil || rerank.groupBy != nil ? 100 : k)))
            let found = try filteredSearch(query, k: pool, parameters: parameters, filter: filter)
            var relevance = found.map { index.metric.score(fromDistance: $0.distance) }
            for (i, n) in found.enumerated() {
                for (field, deltas) in rerank.boosts {
                    for v in payloads.values(field, of: n.id) { relevance[i] += deltas[v] ?? 0 }
                }
            }
            var groups: [[Int]]?
            if let field = rerank.groupBy {
                var code: [String: Int] = [:]
                groups = found.map { n in
                    Array(Set(payloads.values(field, of: n.id))).map { v in
                        if let c = code[v] { return c }
                        code[v] = code.count
                        return code.count - 1
                    }
                }
            }
            var vectors: [[Float]] = []
            if rerank.lambda != nil {
                vectors = found.map { index.storedVector(id: $0.id) ?? [] }
                if index.metric.normalizesVectors {
                    // Stored vectors are unit already; reconstructed ones (PQ, fp16) nearly.
                    for i in vectors.indices where !vectors[i].isEmpty {
                        try? vectors[i].withUnsafeMutableBufferPointer { try VectorMath.normalize($0.baseAddress!, dimension: $0.count) }
                    }
                }
            }
            let metric = index.metric, d = index.dimension
            let order = Reranker.select(relevance: relevance, k: k, lambda: rerank.lambda, similarity: { i, j in
                guard vectors[i].count == d, vectors[j].count == d else { return 0 }
                return vectors[i].withUnsafeBufferPointer { a in
                    vectors[j].withUnsafeBufferPointer { b in
                        metric.score(fromDistance: VectorMath.distance(metric, a.baseAddress!, b.baseAddress!, dimension: d))
                    }
                }
            }, groups: groups, maxPerGroup: rerank.maxPerGroup)
            return order.map { i in Hit(id: found[i].id, score: relevance[i], payload: withPayload ? payloads[found[i].id] : nil) }
        }
    }

    /// Wire hits (score, payload) for neighbours; call under the lock.
    private func hits(_ found: [Neighbor], withPayload: Bool) -> [Hit] {
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
    private func allowedRows(_ filter: Filter) throws -> RowBitmap {
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
    private func filteredSearch(_ q: [Float], k: Int, parameters: SearchParameters, filter: Filter) throws -> [Neighbor] {
        guard !filter.isEmpty else { return try index.search(q, k: k, parameters: parameters) }
        var p = parameters
        p.allowedRows = try allowedRows(filter)
        return try index.search(q, k: k, parameters: p)
    }

    // MARK: Changes

    /// Inserts or replaces `points` (all checked first: one bad point changes nothing). A point
    /// without a payload drops any payload its id had. The change is logged, then applied;
    /// returns the log sequence to pass to `whenDurable` (nil without a log).
    func upsertLogged(_ points: [Request.Point]) throws -> UInt64? {
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
            // Logged first: if the log cannot take it (disk full), nothing changes.
            let sequence = try log?.append(points.map { .upsert(id: $0.id, vector: $0.vector, payload: $0.payload) })
            for p in points {
                try index.upsert(p.vector, id: p.id)
                payloads[p.id] = p.payload
                journal?.append(.upsert(id: p.id, vector: p.vector, payload: nil))
            }
            changes.add(1, ordering: .releasing)
            compactIfDue()
            return sequence
        }
    }

    /// Deletes the live ids among `ids` (each id once), logged first; returns how many were
    /// deleted, the ids that were not live, and the log sequence for `whenDurable`.
    func deleteLogged(_ ids: [UInt64]) throws -> (deleted: Int, missing: [UInt64], sequence: UInt64?) {
        try lock.writing {
            var missing: [UInt64] = []
            var live: [UInt64] = []
            var seen = Set<UInt64>()
            for id in ids where seen.insert(id).inserted {
                if index.contains(id: id) { live.append(id) } else { missing.append(id) }
            }
            let sequence = live.isEmpty ? nil : try log?.append(live.map { .delete(id: $0) })
            for id in live {
                try index.delete(id: id)
                payloads[id] = nil
                journal?.append(.delete(id: id))
            }
            if !live.isEmpty {
                changes.add(1, ordering: .releasing)
                compactIfDue()
            }
            return (live.count, missing, sequence)
        }
    }

    /// True when the logged change `sequence` needs no waiting; otherwise `body` is called from
    /// the log's syncer once it is on disk (see `WriteAheadLog.whenDurable`). Starts a snapshot
    /// when the log has grown past `snapshotLogBytes`.
    func whenDurable(_ sequence: UInt64?, _ body: @escaping (ProtocolError?) -> Void) -> Bool {
        guard let log, let sequence else { return true }
        snapshotIfDue(log)
        return log.whenDurable(sequence, body)
    }

    /// Starts a background `save` when the log has grown past `snapshotLogBytes` (one at a time).
    private func snapshotIfDue(_ log: WriteAheadLog) {
        guard log.size > snapshotLogBytes, !snapshotRunning.exchange(true, ordering: .acquiring) else { return }
        Self.snapshotQueue.async {
            defer { self.snapshotRunning.store(false, ordering: .releasing) }
            do { try self.save() } catch { self.report("collection '\(self.name)': background snapshot failed: \(error)") }
        }
    }

    /// `upsertLogged`, returning once the change is durable.
    func upsert(_ points: [Request.Point]) throws {
        try waitUntilDurable(try upsertLogged(points))
    }

    /// `deleteLogged`, returning once the change is durable.
    func delete(_ ids: [UInt64]) throws -> [UInt64] {
        let (_, missing, sequence) = try deleteLogged(ids)
        try waitUntilDurable(sequence)
        return missing
    }

    private func waitUntilDurable(_ sequence: UInt64?) throws {
        guard let log, let sequence else { return }
        snapshotIfDue(log)
        try log.waitUntilDurable(sequence)
    }

    /// Stored vectors and payloads of `ids` (nil entries for ids that are not live).
    func get(_ ids: [UInt64]) -> [(id: UInt64, vector: [Float], payload: [UInt8]?)?] {
        lock.reading {
            ids.map { id in index.storedVector(id: id).map { (id, $0, payloads[id]) } }
        }
    }

    // MARK: Compaction

    /// A collection whose index holds at least this many deleted rows (default 1,024)…
    var compactionMinimumDeadRows = 1_024
    /// …and at least this share of its rows deleted (default 0.25) is compacted: IVF-PQ's lists
    /// are rewritten at once (O(rows), no retraining); HNSW is rebuilt in the background from its
    /// live vectors while searches and writes go on, then swapped in. (HNSW reuses deleted rows
    /// for new vectors, so only net deletions leave rows to compact; a flat index never has any.)
    var compactionDeadFraction = 0.25
    /// Writes made while a background rebuild runs, applied to the rebuilt index before it is
    /// swapped in (nil: no rebuild running). Touched under the write lock.
    private var journal: [WriteAheadLog.Record]?
    /// Test hook: runs on the rebuild's thread before it builds.
    var beforeRebuild: (() -> Void)?
    private static let compactionQueue = DispatchQueue(label: "shortlist.compaction", qos: .utility)

    /// What compaction has done (for `info` and `stats`).
    struct CompactionRecord: Sendable {
        var completed = 0
        var running = false
        var lastError: String?
        var lastMilliseconds = 0.0
    }
    private let compactionRecord = Mutex(CompactionRecord())
    var compactions: CompactionRecord { compactionRecord.withLock { $0 } }

    /// Deleted rows in the index.
    var deadRows: Int { lock.reading { index.deadRows } }

    /// Starts a compaction when the index has passed both thresholds. Call under the write lock.
    private func compactIfDue() {
        guard journal == nil else { return }
        let dead = index.deadRows
        guard dead >= compactionMinimumDeadRows, Double(dead) >= compactionDeadFraction * Double(index.rowIds.count) else { return }
        let started = MonotonicClock.nanoseconds()
        switch index {
        case let ivf as IVFPQIndex:
            do {
                index = try ivf.compacted()
                compactionEnded(started: started, error: nil)
            } catch {
                compactionEnded(started: started, error: error)
            }
        case let hnsw as HNSWIndex:
            guard let (vectors, ids) = try? hnsw.liveVectors() else { return }
            journal = []
            compactionRecord.withLock { $0.running = true }
            Self.compactionQueue.async { [self] in
                beforeRebuild?()
                let rebuilt = Result { try HNSWIndex(metric: hnsw.metric, vectors: vectors, ids: ids, configuration: hnsw.configuration, threads: 1) }
                lock.writing {
                    defer { journal = nil }
                    do {
                        let fresh = try rebuilt.get()
                        for record in journal ?? [] {
                            switch record {
                            case let .upsert(id, vector, _): try fresh.upsert(vector, id: id)
                            case let .delete(id): if fresh.contains(id: id) { try fresh.delete(id: id) }
                            }
                        }
                        index = fresh
                        compactionEnded(started: started, error: nil)
                    } catch {
                        compactionEnded(started: started, error: error)
                    }
                }
            }
        default:
            break
        }
    }

    /// Records a compaction's end for `stats`; a failure (the index is then unchanged) is also reported.
    private func compactionEnded(started: UInt64, error: Error?) {
        compactionRecord.withLock {
            $0.running = false
            if let error {
                $0.lastError = "\(error)"
            } else {
                $0.completed += 1
                $0.lastError = nil
                $0.lastMilliseconds = Double(MonotonicClock.nanoseconds() - started) / 1e6
            }
        }
        if let error { report("collection '\(name)': compaction failed (the index is unchanged): \(error)") }
    }

    // MARK: Saving

    /// Snapshots the collection: writes the index and the payloads to their files atomically,
    /// then deletes the log records they hold. One snapshot runs at a time; a call that finds one
    /// running waits for it and returns at once when it held every change made before the call.
    ///
    /// Neither searches nor writes wait for the disk: the collection's file sections are copied
    /// in memory while writers are held off, and the log is sealed at that moment
    /// (`WriteAheadLog.seal`); the files are written from the copy while searches and writes go
    /// on, and the sealed log segments are deleted only once the new files and their directory
    /// are synced. A crash at any point leaves a loadable state with every acknowledged write:
    /// the old files plus every log segment, or the new files plus segments whose replay changes
    /// nothing. Throws `io_error` (and keeps the collection dirty) when a write fails; the error
    /// is also kept for `stats`.
    public func save() throws {
        let wanted = changes.load(ordering: .acquiring)
        let finishedBefore = snapshotRecord.withLock { $0.completed }
        snapshotMutex.lock()
        defer { snapshotMutex.unlock() }
        // Join: a snapshot that ended while this call waited holds every change made before it.
        if snapshotRecord.withLock({ $0.completed }) > finishedBefore && savedChanges.load(ordering: .acquiring) >= wanted { return }
        let started = MonotonicClock.nanoseconds()
        var copied = started
        do {
            let hadPayloadFile = payloadSource != nil || FileManager.default.fileExists(atPath: payloadPath)
            let (document, payloadCopy, segment, generation) = try lock.reading {
                let generation = changes.load(ordering: .acquiring)
                // Copies only (the payloads are a value: copied on the writer's next change);
                // encoding, checksums and the disk come after the lock.
                let document = index.fileDocument(extraSections: tuning.map { [$0.section] } ?? []).detached()
                let segment = try log?.seal()
                return (document, payloads, segment, generation)
            }
            copied = MonotonicClock.nanoseconds()
            afterSnapshotCopy?()
            try log?.finishSeal()
            try IndexFile.write(path: indexPath, header: document.header, sections: document.sections)
            if !payloadCopy.texts.isEmpty || hadPayloadFile { try PayloadFile.write(payloadCopy.texts, path: payloadPath) }
            if let segment { try log?.dropSegments(through: segment) }
            savedChanges.store(generation, ordering: .releasing)
            let end = MonotonicClock.nanoseconds()
            snapshotRecord.withLock {
                $0.completed += 1
                $0.lastError = nil
                $0.lastCopyMilliseconds = Double(copied - started) / 1e6
                $0.lastTotalMilliseconds = Double(end - started) / 1e6
            }
        } catch {
            let message = "saving collection '\(name)': \(error)"
            snapshotRecord.withLock {
                $0.failed += 1
                $0.lastError = message
            }
            throw ProtocolError(.ioError, message)
        }
    }
}
