import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
import Synchronization

/// A collection the server answers for, kept on disk: loaded from an index file (with optional
/// payloads and model), every change logged to a write-ahead log before it is applied, and
/// snapshots that write the files back and drop the log records they hold. Searching and the
/// in-memory state are `MemoryCollection`'s.
///
/// Files: the server writes only the index file and files of its own beside it
/// (`INDEX.payloads.jsonl`, `INDEX.wal`, `INDEX.wal.<n>`, temporaries `*.tmp-*`). A payload file
/// named with `payloads=FILE` is read, never written.
public final class ServedCollection: MemoryCollection, @unchecked Sendable {
    /// Where `save` writes the index.
    public let indexPath: String
    /// Where `save` writes the payloads (`INDEX.payloads.jsonl`, one `{"id":…,"payload":…}` per
    /// line): the server's own file, never the one named with `payloads=`.
    public let payloadPath: String
    /// The payload file read at start-up (nil: none): the server's own once it exists,
    /// otherwise the `payloads=` file.
    public let payloadSource: String?
    /// How many of `changes` the newest durable snapshot holds: dirty while they differ.
    private let savedChanges = Atomic<UInt64>(0)
    /// One snapshot at a time; a `save` that finds one running waits, then returns at once if
    /// that snapshot already holds every change made before it was asked for.
    let snapshotMutex = NSLock()
    private let snapshotRecord = Mutex(SnapshotRecord())
    /// Test hook: runs in `save` after the copy is taken, before any file is written.
    var afterSnapshotCopy: (() -> Void)?
    /// The write-ahead log (nil for a collection changed only in memory until `save`).
    let log: WriteAheadLog?
    /// What replaying the log found at start-up.
    public private(set) var replayed = WriteAheadLog.ReplayReport()
    /// `save` runs by itself once the log passes this many bytes (default 64 MiB).
    let snapshotLogBytes: Int
    private let snapshotRunning = Atomic<Bool>(false)
    private let shipperSlot = Mutex<ReplicationShipper?>(nil)
    private static let snapshotQueue = DispatchQueue(label: "shortlist.snapshots")

    /// Loads the index (verified), the payload file if it exists, and the model if named. With a
    /// `durability` mode, replays the write-ahead log at INDEX.wal on top of the index and keeps
    /// logging every change there (see `WriteAheadLog`); without, changes live in memory until
    /// `save`. With `backlogBytes` (a cluster member's), keeps that many bytes of the newest log
    /// records in memory for replicas (`ReplicationBacklog`).
    public init(_ d: Description, durability: WriteAheadLog.SyncMode? = nil, groupCommit: Bool = true, snapshotLogBytes: Int = 64 << 20,
                backlogBytes: Int? = nil) throws {
        indexPath = d.indexPath
        payloadPath = d.indexPath + ".payloads.jsonl"
        let loaded = try IndexLoader.loadTuned(path: d.indexPath, extraSection: LogPosition.sectionTag)
        let snapshotPosition = try loaded.extra.map { try LogPosition(section: $0, path: d.indexPath) } ?? .zero
        Self.removeStaleTemporaries(of: [d.indexPath, d.indexPath + ".payloads.jsonl"])
        guard let index = loaded.index as? any MutableVectorIndex else {
            throw CollectionError.invalidDescription(d.indexPath, reason: "this index kind cannot be served")
        }
        // The server's own payload file holds the state of the last save, so it wins over the
        // file it was first seeded from.
        let exists = { (p: String) in FileManager.default.fileExists(atPath: p) }
        let payloadPath = self.payloadPath
        payloadSource = exists(payloadPath) ? payloadPath : d.payloadPath.flatMap { exists($0) ? $0 : nil }
        if let named = d.payloadPath, payloadSource == nil, !exists(named) {
            throw CollectionError.invalidDescription(d.name, reason: "payload file \(named) does not exist")
        }
        var payloads = PayloadStore(try payloadSource.map { try PayloadFile.read(path: $0) } ?? [:])
        var notice: String?
        if let named = d.payloadPath, payloadSource == payloadPath, named != payloadPath {
            notice = "collection '\(d.name)': reading payloads from \(payloadPath), written by an earlier save; \(named) seeded it and is no longer read"
        }
        var recommender: Recommender?
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
        }
        self.snapshotLogBytes = snapshotLogBytes
        var replayed = WriteAheadLog.ReplayReport()
        if let durability {
            let path = d.indexPath + ".wal"
            let backlog = backlogBytes.map { ReplicationBacklog(after: snapshotPosition, capacityBytes: $0) }
            do {
                replayed = try WriteAheadLog.replay(path: path, after: snapshotPosition) { record, position in
                    backlog?.remember(record, at: position)
                    try record.apply(to: index)
                    payloads[record.id] = record.payload
                }
            } catch let e as CollectionError {
                throw e
            } catch {
                throw CollectionError.invalidDescription(d.name, reason: "replaying \(path): \(error)")
            }
            log = try WriteAheadLog(path: path, mode: durability, groupCommit: groupCommit, after: max(replayed.last, snapshotPosition), backlog: backlog)
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
        super.init(name: d.name, index: index, payloads: payloads, recommender: recommender, tuning: loaded.tuning, loadedFrom: d.indexPath)
        self.replayed = replayed
        changes.store(UInt64(replayed.records), ordering: .releasing)
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

    /// True when the collection changed since it was loaded or last saved.
    public var isDirty: Bool { changes.load(ordering: .acquiring) != savedChanges.load(ordering: .acquiring) }

    /// Records that the files hold every change made so far (an installed snapshot).
    func markSaved() { savedChanges.store(changes.load(ordering: .acquiring), ordering: .releasing) }

    /// Ships the log to replicas while this server is a cluster primary (nil otherwise): writes
    /// are acknowledged once it confirms them (`ReplicationShipper.whenReplicated`).
    var shipper: ReplicationShipper? {
        get { shipperSlot.withLock { $0 } }
        set { shipperSlot.withLock { $0 = newValue } }
    }

    // MARK: Changes

    /// `upsert` logged: the change is appended to the log, then applied; returns the log
    /// sequence to pass to `whenDurable` (nil without a log).
    func upsertLogged(_ points: [Request.Point]) throws -> UInt64? {
        try upsert(points) { records in try log?.append(records) }
    }

    /// `delete` logged; returns how many were deleted, the ids that were not live, and the log
    /// sequence for `whenDurable`.
    func deleteLogged(_ ids: [UInt64]) throws -> (deleted: Int, missing: [UInt64], sequence: UInt64?) {
        let (deleted, missing, sequence) = try delete(ids) { records in try log?.append(records) }
        return (deleted, missing, sequence ?? nil)
    }

    /// True when the logged change `sequence` needs no waiting; otherwise `body` is called from
    /// the log's syncer once it is on disk (see `WriteAheadLog.whenDurable`) and, on a cluster
    /// primary, confirmed by the replicas it waits for (`ReplicationShipper`). Starts a
    /// snapshot when the log has grown past `snapshotLogBytes`.
    func whenDurable(_ sequence: UInt64?, _ body: @escaping (ProtocolError?) -> Void) -> Bool {
        guard let log, let sequence else { return true }
        snapshotIfDue(log)
        guard let shipper else { return log.whenDurable(sequence, body) }
        let onDisk: (ProtocolError?) -> Void = { error in
            if let error { body(error) } else if shipper.whenReplicated(sequence, body) { body(nil) }
        }
        return log.whenDurable(sequence, onDisk) && shipper.whenReplicated(sequence, body)
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
        let done = DispatchSemaphore(value: 0)
        let error = Mutex<ProtocolError?>(nil)
        if whenDurable(sequence, { e in error.withLock { $0 = e }; done.signal() }) { return }
        done.wait()
        if let e = error.withLock({ $0 }) { throw e }
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
        _ = try snapshot()
    }

    /// Takes a snapshot (see `save`; call holding `snapshotMutex`); returns the log position
    /// it holds.
    func snapshot() throws -> LogPosition {
        let started = MonotonicClock.nanoseconds()
        var copied = started
        do {
            let hadPayloadFile = payloadSource != nil || FileManager.default.fileExists(atPath: payloadPath)
            let (document, payloadCopy, segment, generation, position) = try lock.reading {
                let generation = changes.load(ordering: .acquiring)
                let position = log?.last ?? .zero
                // Copies only (the payloads are a value: copied on the writer's next change);
                // encoding, checksums and the disk come after the lock.
                let sections = (tuning.map { [$0.section] } ?? []) + (log == nil ? [] : [position.section])
                let document = index.fileDocument(extraSections: sections).detached()
                let segment = try log?.seal()
                return (document, payloads, segment, generation, position)
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
            return position
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
