import Foundation
import ShortlistCore
import ShortlistProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A collection's write-ahead log: every upsert and delete is appended here, and made durable
/// (per `SyncMode`), before its reply is sent. On start the server loads the last index file and
/// replays the log; a snapshot seals the log (see `seal`), writes a new index file from a
/// consistent copy, and then deletes the sealed segments.
///
/// Files: the current log at `INDEX.wal`, and sealed segments `INDEX.wal.<n>` (n = 1, 2, …) that
/// a snapshot has not yet made redundant. Replay reads the sealed segments in order of n, then
/// the current log. Replaying a record that a snapshot already holds changes nothing (each
/// record sets its id's final state), so a crash anywhere in a snapshot loses nothing.
///
/// Layout, version 3 (little-endian): the magic `SLWAL003`, then records, each
/// `length u32 | crc32c(length) u32 | crc32c(length ‖ body) u32 | body`: the length is checked
/// twice, by its own checksum and by the record's. The body is `term u64 | lsn u64` (the
/// record's `LogPosition`), then `kind u8 (1 upsert, 2 delete) | id u64` followed, for an
/// upsert, by `dimension u32 | dimension × f32 | payload length u32 (0xFFFFFFFF: none) | payload
/// bytes`. Versions 2 (`SLWAL002`: the same without the position) and 1 (`SLWAL001`, records
/// `length | crc32c(body) | body`) are still read, their records numbered on from the snapshot's
/// position; such a log found at start-up is sealed as a segment, so new records always go to
/// a version-3 file.
///
/// Recovery cuts only a tail that is genuinely at the end: a record whose verified length runs
/// past the end of the file, one that ends exactly at the end and fails its checksum, or a
/// header that fails its check with no whole record anywhere after it. Any other damage, and a
/// record whose checksums hold but whose body does not decode, refuses the start with the byte
/// offset: later records were acknowledged, and are never dropped silently.
///
/// Group commit: appends happen under the collection's write lock (a `write` of the encoded
/// records at the end of the file). The writer then hands its reply to `whenDurable` and its
/// worker thread moves on; a syncer thread calls `fdatasync` for everything appended so far and
/// releases every reply it covers. Writes that arrive while a sync runs share the next one, so
/// however many clients write, there is at most one sync in progress and one waiting.
public final class WriteAheadLog: @unchecked Sendable {
    /// The magic of the version this build writes.
    static let magic = Array("SLWAL003".utf8)
    /// The magic of version 2 (read, never written).
    static let magicV2 = Array("SLWAL002".utf8)
    /// The magic of version 1 (read, never written).
    static let magicV1 = Array("SLWAL001".utf8)
    static let noPayload = UInt32.max
    /// Bytes before a record's body (versions 2 and 3).
    static let recordHeaderSize = 12
    /// Bytes of a version-3 body's position.
    static let positionSize = 16

    let path: String
    let mode: SyncMode
    /// The current log file (changes when `seal` starts a new one; only under the collection's
    /// exclusion of writers).
    private var fd: Int32
    /// Bytes in the current file (header included).
    private(set) var size: Int
    /// The number the next sealed segment gets.
    private var nextSegment: UInt64
    private let state: SyncState
    private var timer: DispatchSourceTimer?
    /// The position of the last record appended (or of the snapshot, for an empty log).
    private(set) var last: LogPosition
    /// The term new records are written in (a cluster primary's; 0 outside a cluster). Set under
    /// the collection's exclusion of writers.
    var term: UInt64 = 0
    /// Recent records for replicas (nil: none kept).
    let backlog: ReplicationBacklog?

    /// Test hook: appends fail with ENOSPC once the file would exceed this many bytes.
    static var simulatedDiskLimit: Int? = ProcessInfo.processInfo.environment["SHORTLIST_FAULT_WAL_LIMIT_BYTES"].flatMap(Int.init)

    /// Opens (creating with its header if needed) the log at `path` for appending, after the
    /// record at `position` (what `replay` found, or the snapshot's position). Call `replay`
    /// first on an existing log: it also seals an older version's log, so the file opened here is
    /// always version 3. With a `backlog` (that replay has filled), keeps recent records in it
    /// for replicas.
    init(path: String, mode: SyncMode, groupCommit: Bool = true, after position: LogPosition = .zero, backlog: ReplicationBacklog? = nil) throws {
        self.path = path
        self.mode = mode
        last = position
        term = position.term
        self.backlog = backlog
        if let backlog, backlog.last != position { backlog.reset(after: position) }
        nextSegment = (Self.segments(of: path).last?.number ?? 0) + 1
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw ProtocolError(.ioError, "\(path): cannot open the write-ahead log: \(String(cString: strerror(errno)))") }
        self.fd = fd
        var st = stat()
        fstat(fd, &st)
        size = Int(st.st_size)
        state = SyncState(fd: fd, groupCommit: groupCommit, lsn: position.lsn)
        if size == 0 {
            try Self.magic.withUnsafeBytes { try writeAll($0, at: 0) }
            size = Self.magic.count
            guard fsync(fd) == 0 else { throw ProtocolError(.ioError, "\(path): \(String(cString: strerror(errno)))") }
            try Self.syncDirectory(of: path)
        } else {
            var head = [UInt8](repeating: 0, count: Self.magic.count)
            guard pread(fd, &head, head.count, 0) == head.count, head == Self.magic else {
                close(fd)
                throw ProtocolError(.ioError, "\(path): not a version-3 write-ahead log (replay it first)")
            }
        }
        switch mode {
        case .always:
            let state = self.state
            let t = Thread { state.run() }
            t.name = "shortlist-wal-sync"
            t.start()
        case .batch:
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "shortlist.wal.sync"))
            t.schedule(deadline: .now() + .milliseconds(10), repeating: .milliseconds(10))
            t.setEventHandler { [state] in _ = state.syncNow() }
            t.resume()
            timer = t
        case .never:
            break
        }
    }

    deinit {
        timer?.cancel()
        if mode == .always {
            state.locked { state.stopped = true }
            pthread_cond_signal(state.wake)
            state.exited.wait()
        }
        close(fd)
        for old in retired { close(old) }
    }

    /// Files replaced by `seal`, closed with the log (the syncer may still be syncing one).
    private var retired: [Int32] = []

    /// Syncs made for replies (for tests and the group-commit benchmark).
    var syncCount: Int { state.locked { state.syncCount } }

    // MARK: Appending

    /// Writes `records` at the end of the log (one `write`), numbered on from `last` in the
    /// current `term`, returning the last one's lsn, which `waitUntilDurable` takes. Call under
    /// the collection's write lock, before changing the collection: when it throws (disk
    /// full…), the file is cut back and nothing was logged.
    func append(_ records: [Record]) throws -> UInt64 {
        let term = self.term, first = last.lsn + 1
        return try append(records.enumerated().map { ($1, LogPosition(term: term, lsn: first + UInt64($0))) })
    }

    /// `append` of records whose positions are given (a replica's, as its primary numbered
    /// them): they must follow `last` without a gap, in terms no older than its.
    func append(_ records: [(record: Record, position: LogPosition)]) throws -> UInt64 {
        var expected = last
        for (i, r) in records.enumerated() {
            guard r.position.lsn == expected.lsn + 1, r.position.term >= expected.term else {
                throw ProtocolError(.invalidRequest, "record \(i) is at \(r.position); the log's next is lsn \(expected.lsn + 1) in term \(expected.term) or later")
            }
            expected = r.position
        }
        if let refused = state.locked({ state.failure }) { throw ProtocolError(.ioError, "the write-ahead log could not be synced earlier (\(refused)); restart the server") }
        guard !records.isEmpty else { return last.lsn }
        var encoded: [[UInt8]] = []
        encoded.reserveCapacity(records.count)
        var bytes: [UInt8] = []
        for r in records {
            let start = bytes.count
            Self.encode(r.record, at: r.position, into: &bytes)
            if backlog != nil { encoded.append(Array(bytes[start...])) }
        }
        do {
            if let limit = Self.simulatedDiskLimit, size + bytes.count > limit {
                throw ProtocolError(.ioError, "\(path): \(String(cString: strerror(ENOSPC)))")
            }
            try bytes.withUnsafeBytes { try writeAll($0, at: size) }
        } catch {
            _ = ftruncate(fd, off_t(size))
            throw error
        }
        size += bytes.count
        last = expected
        term = max(term, expected.term)
        backlog?.append(encoded, terms: records.map(\.position.term))
        let lsn = expected.lsn
        state.locked { state.appended = lsn }
        return lsn
    }

    /// True when the record at lsn `sequence` needs no waiting (it is on disk, or the mode does not wait);
    /// otherwise registers `body`, which the syncer thread calls once the record is on disk (with
    /// an `io_error` if the sync failed), and returns false.
    func whenDurable(_ sequence: UInt64, _ body: @escaping (ProtocolError?) -> Void) -> Bool {
        guard mode == .always else { return true }
        let now: Bool = state.locked {
            if state.durable >= sequence { return true }
            state.waiters.append((sequence, body))
            return false
        }
        if !now { pthread_cond_signal(state.wake) }
        return now
    }

    /// Blocks until record `sequence` is on disk (see `whenDurable`).
    func waitUntilDurable(_ sequence: UInt64) throws {
        let done = DispatchSemaphore(value: 0)
        var error: ProtocolError?
        if whenDurable(sequence, { error = $0; done.signal() }) { return }
        done.wait()
        if let error { throw error }
    }

    /// Seals the current log for a snapshot: renames it to the next segment `path.<n>` and starts
    /// a new, empty current log, without waiting for the disk. Call with writers excluded, at the
    /// moment the snapshot's copy is taken, then `finishSeal()` after releasing them; returns n
    /// for `dropSegments(through:)` once the snapshot is durable. Until `finishSeal`, every sync
    /// that acknowledges replies also syncs the sealed file and the folder. When it throws, the
    /// log is as it was.
    func seal() throws -> UInt64 {
        if let refused = state.locked({ state.failure }) { throw ProtocolError(.ioError, "the write-ahead log could not be synced earlier (\(refused)); restart the server") }
        let number = nextSegment
        let segmentPath = path + ".\(number)"
        guard rename(path, segmentPath) == 0 else {
            throw ProtocolError(.ioError, "\(path): cannot seal the write-ahead log as \(segmentPath): \(String(cString: strerror(errno)))")
        }
        let fresh = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        let started = fresh >= 0 && Self.magic.withUnsafeBytes { pwrite(fresh, $0.baseAddress!, $0.count, 0) } == Self.magic.count
        guard started else {
            let reason = String(cString: strerror(errno))
            if fresh >= 0 { close(fresh) }
            unlink(path)
            _ = rename(segmentPath, path)
            throw ProtocolError(.ioError, "\(path): cannot start a new write-ahead log: \(reason)")
        }
        nextSegment += 1
        retired.append(fd)
        let sealed = fd
        fd = fresh
        state.locked {
            state.fd = fresh
            state.sealedFD = sealed
            state.directoryToSync = path
        }
        size = Self.magic.count
        return number
    }

    /// Makes a `seal` durable (the sealed file's last records, the new file's header, both names
    /// in the folder). Call without holding the collection's lock.
    func finishSeal() throws {
        let (sealed, directory) = state.locked { (state.sealedFD, state.directoryToSync) }
        if let reason = state.syncNow() { throw ProtocolError(.ioError, "\(path): syncing after sealing: \(reason)") }
        state.locked {
            if state.sealedFD == sealed { state.sealedFD = nil }
            if state.directoryToSync == directory { state.directoryToSync = nil }
        }
    }

    /// Deletes the sealed segments numbered up to `number` (a snapshot now holds their records)
    /// and syncs the directory.
    func dropSegments(through number: UInt64) throws {
        for segment in Self.segments(of: path) where segment.number <= number {
            guard unlink(segment.path) == 0 || errno == ENOENT else {
                throw ProtocolError(.ioError, "\(segment.path): cannot delete: \(String(cString: strerror(errno)))")
            }
        }
        try Self.syncDirectory(of: path)
    }

    /// Starts the log over after `position` (a snapshot installed from a primary holds
    /// everything before it): seals the current file and deletes every segment. Call with
    /// writers excluded, once the snapshot's files are in place.
    func restart(after position: LogPosition) throws {
        let sealed = try seal()
        try finishSeal()
        try dropSegments(through: sealed)
        last = position
        term = position.term
        backlog?.reset(after: position)
        state.locked {
            state.appended = position.lsn
            state.durable = position.lsn
        }
    }

    /// Bytes in sealed segments that a snapshot has not yet made redundant.
    var sealedBytes: Int {
        Self.segments(of: path).reduce(0) { total, s in
            var st = stat()
            return total + (stat(s.path, &st) == 0 ? Int(st.st_size) : 0)
        }
    }

    static func syncDirectory(of path: String) throws {
        do { try AtomicFileWriter.syncDirectory(of: path) } catch {
            throw ProtocolError(.ioError, "\(error)")
        }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ProtocolError(.ioError, "\(path): \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
