import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A collection's side of replication (`docs/cluster.md`): on a primary, its log's backlog and
/// snapshots feed the replicas (`ReplicationShipper`); on a replica, records and snapshots from
/// the primary are applied here, logged with the primary's positions.
extension ServedCollection {
    /// Where the log stands (zero without a log).
    var logPosition: LogPosition { lock.reading { log?.last ?? .zero } }

    /// New records are written in `term` from now on (this server became its shard's primary).
    func begin(term: UInt64) {
        lock.writing {
            if let log { log.term = max(log.term, term) }
        }
    }

    private func replicatedLog() throws -> WriteAheadLog {
        guard let log else { throw ProtocolError(.unsupported, "collection '\(name)' has no write-ahead log; a cluster member runs with one") }
        return log
    }

    /// On a cluster member (a collection keeping a backlog), refuses points whose log record,
    /// as base64 in a `replicate` line, would not fit in a line of `lineLimit` bytes: a replica
    /// could never take it. (Servers of a cluster share `--max-line-bytes`.)
    func checkShippable(_ points: [Request.Point], lineLimit: Int) throws {
        guard log?.backlog != nil else { return }
        let room = ReplicationShipper.Settings.recordRoom(lineLimit: lineLimit)
        for (i, p) in points.enumerated() {
            // Header, position, kind, id, dimension, the floats, payload length, payload.
            let bytes = WriteAheadLog.recordHeaderSize + WriteAheadLog.positionSize + 13 + 4 * p.vector.count + 4 + (p.payload?.count ?? 0)
            guard bytes <= room else {
                throw ProtocolError(.tooLarge, "points[\(i)]: its log record is \(bytes) bytes, more than the \(room) a replica can take in one line of --max-line-bytes \(lineLimit); shorten its payload")
            }
        }
    }

    /// Appends `records` (encoded as in the log, with the primary's positions) when the log
    /// stands exactly at `position`, and applies them; returns whether they were taken, where
    /// the log stands afterwards, and the lsn `whenDurable` waits for. Without `position`, only
    /// reports where the log stands. Every record is checked before any is logged.
    func applyReplicated(_ bytes: [UInt8], after position: LogPosition?) throws -> (accepted: Bool, position: LogPosition, sequence: UInt64?) {
        let log = try replicatedLog()
        var records: [(record: WriteAheadLog.Record, position: LogPosition)] = []
        do {
            let report = try WriteAheadLog.decode(WriteAheadLog.magic + bytes, path: "the records", after: .zero) { records.append(($0, $1)) }
            guard report.discardedBytes == 0 else { throw ProtocolError(.invalidRequest, "'records' ends with \(report.discardedBytes) bytes that are not a whole record") }
        } catch let e as CollectionError {
            throw ProtocolError(.invalidRequest, "'records': \(e)")
        }
        return try lock.writing {
            guard let position, log.last == position, !records.isEmpty else { return (position == nil || log.last == position, log.last, nil) }
            for (i, r) in records.enumerated() {
                guard case let .upsert(_, vector, _) = r.record else { continue }
                do { try index.validate(vector) } catch {
                    var e = ProtocolError.from(error)
                    e.message = "records[\(i)]: " + e.message
                    throw e
                }
            }
            let sequence = try log.append(records)
            for (record, _) in records {
                try record.apply(to: index)
                payloads[record.id] = record.payload
                journal?.append(record)
            }
            changes.add(1, ordering: .releasing)
            compactIfDue()
            return (true, log.last, sequence)
        }
    }

    /// A fresh snapshot's files, read whole, and the log position they hold: what a replica the
    /// backlog cannot bring up to date installs.
    func snapshotFiles() throws -> (index: [UInt8], payloads: [UInt8]?, position: LogPosition) {
        _ = try replicatedLog()
        snapshotMutex.lock()
        defer { snapshotMutex.unlock() }
        let position = try snapshot()
        let read = { (path: String) throws -> [UInt8] in Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
        let payloadBytes = FileManager.default.fileExists(atPath: payloadPath) ? try read(payloadPath) : nil
        return (try read(indexPath), payloadBytes, position)
    }

    /// Where a snapshot's `part` is received (named so a crashed server's leftovers are removed
    /// at the next start).
    private func installPath(_ part: Request.Install.Part) -> String {
        (part == .index ? indexPath : payloadPath) + ".tmp-\(getpid())-1"
    }

    /// Writes `data` at `offset` of the snapshot file `part` being received (offset 0 starts it
    /// over; any other must be where the file ends); returns the file's length.
    func installPart(_ part: Request.Install.Part, offset: Int, data: [UInt8]) throws -> Int {
        _ = try replicatedLog()
        let path = installPath(part)
        // A new snapshot: what an earlier one left of its payloads must not be taken for its.
        if part == .index && offset == 0 { unlink(installPath(.payloads)) }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (offset == 0 ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw ProtocolError(.ioError, "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        guard Int(st.st_size) == offset else {
            throw ProtocolError(.invalidRequest, "'offset' is \(offset) but \(part.rawValue) holds \(st.st_size) bytes so far")
        }
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, data.count - done, off_t(offset + done)) }
            guard n > 0 else { throw ProtocolError(.ioError, "\(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        return offset + data.count
    }

    /// Replaces the collection with the snapshot received (`installPart`), which holds the log up
    /// to `position`: the snapshot is loaded and checked first (nothing changes when it fails),
    /// then the log starts over after `position`, the files take the snapshot's place and the
    /// index and payloads in memory are swapped. A crash part-way leaves the previous files, or
    /// the new, each with the log position it holds.
    func install(at position: LogPosition) throws {
        let log = try replicatedLog()
        let indexTemp = installPath(.index), payloadTemp = installPath(.payloads)
        guard FileManager.default.fileExists(atPath: indexTemp) else {
            throw ProtocolError(.invalidRequest, "no snapshot index was sent before the commit")
        }
        for path in [indexTemp, payloadTemp] where FileManager.default.fileExists(atPath: path) {
            try AtomicFileWriter.syncFile(atPath: path)
        }
        let loaded: (index: any VectorIndex, tuning: TuningTable?, extra: [UInt8]?)
        do { loaded = try IndexLoader.loadTuned(path: indexTemp, extraSection: LogPosition.sectionTag) } catch {
            throw ProtocolError(.invalidRequest, "the snapshot's index does not load: \(error)")
        }
        guard let fresh = loaded.index as? any MutableVectorIndex, fresh.dimension == dimension, fresh.metric == metric else {
            throw ProtocolError(.invalidRequest, "the snapshot's index is not a \(dimension)-dimensional \(metric) index of a kind the server changes")
        }
        guard let held = try loaded.extra.map({ try LogPosition(section: $0, path: indexTemp) }), held == position else {
            throw ProtocolError(.invalidRequest, "the snapshot's index does not hold the log up to \(position)")
        }
        let hasPayloads = FileManager.default.fileExists(atPath: payloadTemp)
        let freshPayloads = PayloadStore(hasPayloads ? try PayloadFile.read(path: payloadTemp) : [:])
        // No snapshot of the replica's own may run meanwhile: it would write its older copy
        // over the installed files.
        snapshotMutex.lock()
        defer { snapshotMutex.unlock() }
        try lock.writing {
            guard journal == nil else { throw ProtocolError(.overloaded, "collection '\(name)' is being compacted; send the snapshot again shortly") }
            try log.restart(after: position)
            if hasPayloads {
                guard rename(payloadTemp, payloadPath) == 0 else { throw ProtocolError(.ioError, "\(payloadPath): \(String(cString: strerror(errno)))") }
            } else {
                unlink(payloadPath)
            }
            guard rename(indexTemp, indexPath) == 0 else { throw ProtocolError(.ioError, "\(indexPath): \(String(cString: strerror(errno)))") }
            try WriteAheadLog.syncDirectory(of: indexPath)
            index = fresh
            payloads = freshPayloads
            changes.add(1, ordering: .releasing)
            markSaved()
        }
    }
}
