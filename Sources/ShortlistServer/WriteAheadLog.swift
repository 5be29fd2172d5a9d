import Foundation
import ShortlistCore
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
/// Layout, version 2 (little-endian): the magic `SLWAL002`, then records, each
/// `length u32 | crc32c(length) u32 | crc32c(length ‖ body) u32 | body`: the length is checked
/// twice, by its own checksum and by the record's. The body is `kind u8 (1 upsert, 2 delete) |
/// id u64` followed, for an upsert, by `dimension u32 | dimension × f32 | payload length u32
/// (0xFFFFFFFF: none) | payload bytes`. Version 1 (`SLWAL001`, records `length | crc32c(body) |
/// body`) is still read; a version-1 log found at start-up is sealed as a segment, so new
/// records always go to a version-2 file.
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
    /// When a write's reply waits for the disk.
    public enum SyncMode: String, CaseIterable, Sendable {
        /// Every reply waits until its record is synced (writers share syncs). The default.
        case always
        /// Replies do not wait; a background sync runs every 10 ms. A crash can lose the last
        /// ~10 ms of acknowledged writes.
        case batch
        /// No syncs: the operating system writes when it likes. A power loss can lose anything
        /// since the last `save`; a crash of the server process alone loses nothing.
        case never
    }

    enum Record: Equatable {
        case upsert(id: UInt64, vector: [Float], payload: [UInt8]?)
        case delete(id: UInt64)
    }

    /// The magic of the version this build writes.
    static let magic = Array("SLWAL002".utf8)
    /// The magic of version 1 (read, never written).
    static let magicV1 = Array("SLWAL001".utf8)
    static let noPayload = UInt32.max
    /// Bytes before a version-2 record's body.
    static let recordHeaderSize = 12

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

    /// Shared by the log and its syncer thread (which must not keep the log alive).
    private final class SyncState: @unchecked Sendable {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        /// The file syncs go to (read under `mutex`; `seal` replaces it).
        var fd: Int32
        /// After a `seal` and until `finishSeal`: the sealed file, whose last records may not be
        /// synced yet, and the folder, whose new entries may not be. A sync that acknowledges
        /// replies covers them too, so no reply waits for `finishSeal` and none is sent early.
        var sealedFD: Int32?
        var directoryToSync: String?
        /// With `always`: whether concurrent writers share syncs (default). Without, every write
        /// makes its own sync, one at a time: kept only to measure what group commit gains.
        let groupCommit: Bool
        /// Appends counted since the file was opened, and how many of them are known durable.
        var appended: UInt64 = 0
        var durable: UInt64 = 0
        /// Replies waiting for their record's sync, in sequence order.
        var waiters: [(sequence: UInt64, body: (ProtocolError?) -> Void)] = []
        /// Set when a sync failed: later writes are refused, since what is on disk is unknown.
        var failure: String?
        var syncCount = 0
        var stopped = false
        let exited = DispatchSemaphore(value: 0)

        init(fd: Int32, groupCommit: Bool) {
            self.fd = fd
            self.groupCommit = groupCommit
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(wake, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            pthread_cond_destroy(wake)
            mutex.deallocate()
            wake.deallocate()
        }

        func locked<R>(_ body: () throws -> R) rethrows -> R {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body()
        }

        /// Syncs the current file, and after a seal the sealed file and the folder; nil when all
        /// went well, else the reason.
        func syncNow() -> String? {
            let (fd, sealed, directory) = locked { (self.fd, sealedFD, directoryToSync) }
            if let sealed, fdatasync(sealed) != 0 { return String(cString: strerror(errno)) }
            if let directory {
                do { try AtomicFileWriter.syncDirectory(of: directory) } catch { return "\(error)" }
            }
            if fdatasync(fd) != 0 { return String(cString: strerror(errno)) }
            return nil
        }

        /// The syncer: one `fdatasync` for everything appended when it starts (or, without group
        /// commit, for the oldest waiter only), then the replies it covers.
        func run() {
            while true {
                pthread_mutex_lock(mutex)
                while waiters.isEmpty && !stopped { pthread_cond_wait(wake, mutex) }
                if waiters.isEmpty && stopped {
                    pthread_mutex_unlock(mutex)
                    exited.signal()
                    return
                }
                let target = groupCommit ? appended : waiters[0].sequence
                pthread_mutex_unlock(mutex)
                let reason = syncNow()
                let ok = reason == nil
                pthread_mutex_lock(mutex)
                syncCount += 1
                var ready: [(ProtocolError?) -> Void] = []
                if ok {
                    durable = max(durable, target)
                    let n = waiters.prefix { $0.sequence <= durable }.count
                    ready = waiters.prefix(n).map(\.body)
                    waiters.removeFirst(n)
                } else {
                    failure = reason
                    ready = waiters.map(\.body)
                    waiters.removeAll()
                }
                pthread_mutex_unlock(mutex)
                let error = ok ? nil : ProtocolError(.ioError, "syncing the write-ahead log failed: \(reason ?? "?")")
                for body in ready { body(error) }
            }
        }
    }

    /// Test hook: appends fail with ENOSPC once the file would exceed this many bytes.
    static var simulatedDiskLimit: Int? = ProcessInfo.processInfo.environment["SHORTLIST_FAULT_WAL_LIMIT_BYTES"].flatMap(Int.init)

    /// Opens (creating with its header if needed) the log at `path` for appending. Call
    /// `replay` first on an existing log: it also seals a version-1 log, so the file opened here
    /// is always version 2.
    init(path: String, mode: SyncMode, groupCommit: Bool = true) throws {
        self.path = path
        self.mode = mode
        nextSegment = (Self.segments(of: path).last?.number ?? 0) + 1
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw ProtocolError(.ioError, "\(path): cannot open the write-ahead log: \(String(cString: strerror(errno)))") }
        self.fd = fd
        var st = stat()
        fstat(fd, &st)
        size = Int(st.st_size)
        state = SyncState(fd: fd, groupCommit: groupCommit)
        if size == 0 {
            try Self.magic.withUnsafeBytes { try writeAll($0, at: 0) }
            size = Self.magic.count
            guard fsync(fd) == 0 else { throw ProtocolError(.ioError, "\(path): \(String(cString: strerror(errno)))") }
            try Self.syncDirectory(of: path)
        } else {
            var head = [UInt8](repeating: 0, count: Self.magic.count)
            guard pread(fd, &head, head.count, 0) == head.count, head == Self.magic else {
                close(fd)
                throw ProtocolError(.ioError, "\(path): not a version-2 write-ahead log (replay it first)")
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

    // MARK: Encoding

    static func encode(_ record: Record, into out: inout [UInt8]) {
        var body = BinaryWriter()
        switch record {
        case let .upsert(id, vector, payload):
            body.write(UInt8(1))
            body.write(id)
            body.write(UInt32(vector.count))
            for v in vector { body.write(v) }
            if let payload {
                body.write(UInt32(payload.count))
                body.write(bytes: payload)
            } else {
                body.write(noPayload)
            }
        case let .delete(id):
            body.write(UInt8(2))
            body.write(id)
        }
        var length = BinaryWriter()
        length.write(UInt32(body.bytes.count))
        var header = length
        header.write(Checksum.crc32c(length.bytes))
        header.write(Checksum.crc32c(body.bytes, continuing: Checksum.crc32c(length.bytes)))
        out.append(contentsOf: header.bytes)
        out.append(contentsOf: body.bytes)
    }

    /// What `replay` found.
    public struct ReplayReport: Equatable, Sendable {
        public var records = 0
        /// Bytes cut off the end (a torn last record), 0 when the log was whole.
        public var discardedBytes = 0
        /// Sealed segments replayed before the current log.
        public var segments = 0
        /// The format version of the current log (0: none), for `replay`'s caller.
        var version = 0
    }

    /// Sealed segments of the log at `path` (`path.<n>`), in order of n.
    static func segments(of path: String) -> [(number: UInt64, path: String)] {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + "."
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.compactMap { name -> (UInt64, String)? in
            guard name.hasPrefix(prefix), let n = UInt64(name.dropFirst(prefix.count)), n > 0,
                  String(n) == String(name.dropFirst(prefix.count)) else { return nil }
            return (n, (dir as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Replays the sealed segments of the log at `path`, then the log itself (each if it
    /// exists), handing every whole record to `apply` in order; cuts a torn tail off a file (see
    /// the type's notes). Refuses a file that is not a log, and damage that is not a torn tail.
    /// A version-1 log is sealed as a segment afterwards, so that `init` starts a version-2 file.
    static func replay(path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        var report = ReplayReport()
        let sealed = segments(of: path)
        for segment in sealed {
            let r = try replayFile(segment.path, apply: apply)
            report.records += r.records
            report.discardedBytes += r.discardedBytes
            report.segments += 1
        }
        guard FileManager.default.fileExists(atPath: path) else { return report }
        let r = try replayFile(path, apply: apply)
        report.records += r.records
        report.discardedBytes += r.discardedBytes
        report.version = r.version
        if r.version == 1 {
            let target = path + ".\((sealed.last?.number ?? 0) + 1)"
            guard rename(path, target) == 0 else {
                throw ProtocolError(.ioError, "\(path): cannot set the version-1 log aside as \(target): \(String(cString: strerror(errno)))")
            }
            try syncDirectory(of: path)
        }
        return report
    }

    /// `replay` of one file.
    private static func replayFile(_ path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        let data: [UInt8]
        do { data = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw ProtocolError(.ioError, "\(path): cannot read the write-ahead log: \(error.localizedDescription)")
        }
        let report = try decode(data, path: path, apply: apply)
        if report.discardedBytes > 0 {
            let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else {
                throw ProtocolError(.ioError, "\(path): cannot cut the torn tail of the write-ahead log: \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            guard ftruncate(fd, off_t(data.count - report.discardedBytes)) == 0, fsync(fd) == 0 else {
                throw ProtocolError(.ioError, "\(path): cannot cut the torn tail of the write-ahead log: \(String(cString: strerror(errno)))")
            }
        }
        return report
    }

    /// Reads the records of a log's bytes (see `replay`; `path` only names it in errors).
    static func decode(_ data: [UInt8], path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        var report = ReplayReport()
        if data.isEmpty { return report }
        guard data.count >= magic.count else {
            if magic.starts(with: data) || magicV1.starts(with: data) {
                // A log whose header write was cut: nothing was ever appended to it.
                report.discardedBytes = data.count
                return report
            }
            throw CollectionError.invalidDescription(path, reason: "not a Shortlist write-ahead log (bad magic); refusing to start rather than lose it")
        }
        let head = Array(data[0..<magic.count])
        if head == magicV1 {
            report = try decodeV1(data, path: path, apply: apply)
            report.version = 1
            return report
        }
        guard head == magic else {
            throw CollectionError.invalidDescription(path, reason: "not a Shortlist write-ahead log, or a newer version than this build reads (magic \(String(decoding: head.map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x3F }, as: UTF8.self))); refusing to start rather than lose it")
        }
        report.version = 2
        var p = magic.count
        let h = recordHeaderSize
        while p < data.count {
            guard data.count - p >= h else { break }  // a header cut short: the end of the file
            let length = Int(u32(data, p))
            let lengthOK = data.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[p..<p + 4])) } == u32(data, p + 4)
            guard lengthOK else {
                // The length cannot be trusted, so where this record ends is unknown: it is a
                // torn tail only if no whole record follows it anywhere.
                if let next = firstWholeRecord(in: data, after: p) {
                    throw corrupt(path, p, detail: "its length fails its checksum, and a whole record starts at byte \(next)")
                }
                break
            }
            let start = p + h
            guard length <= data.count - start else { break }  // runs past the end: torn
            let crc = data.withUnsafeBytes { Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[start..<start + length]), continuing: Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[p..<p + 4]))) }
            guard crc == u32(data, p + 8) else {
                if start + length == data.count { break }  // the last record, torn
                throw corrupt(path, p, detail: "it fails its checksum and whole records follow it")
            }
            try applyBody(data, start: start, length: length, record: p, path: path, apply: apply)
            report.records += 1
            p = start + length
        }
        report.discardedBytes = data.count - p
        return report
    }

    /// Decodes the body at `start` of the record at byte `record` and hands it to `apply`; a body
    /// whose checksums held but that does not decode refuses the start.
    private static func applyBody(_ data: [UInt8], start: Int, length: Int, record: Int, path: String, apply: (Record) throws -> Void) throws {
        guard let decoded = body(data, start: start, length: length) else {
            throw corrupt(path, record, detail: "its checksum holds but its contents do not decode")
        }
        try apply(decoded)
    }

    /// The offset of the first version-2 record after `p` whose checks all hold, if any.
    private static func firstWholeRecord(in data: [UInt8], after p: Int) -> Int? {
        var q = p + 1
        while q + recordHeaderSize <= data.count {
            let found: Bool = data.withUnsafeBytes { raw in
                let lengthBytes = UnsafeRawBufferPointer(rebasing: raw[q..<q + 4])
                let lengthCRC = Checksum.crc32c(lengthBytes)
                guard lengthCRC == u32(data, q + 4) else { return false }
                let length = Int(u32(data, q))
                let start = q + recordHeaderSize
                guard length <= data.count - start else { return false }
                return Checksum.crc32c(UnsafeRawBufferPointer(rebasing: raw[start..<start + length]), continuing: lengthCRC) == u32(data, q + 8)
            }
            if found { return q }
            q += 1
        }
        return nil
    }

    private static func u32(_ data: [UInt8], _ at: Int) -> UInt32 {
        data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }.littleEndian
    }

    private static func u64(_ data: [UInt8], _ at: Int) -> UInt64 {
        data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }.littleEndian
    }

    /// The record in `data[start..<start + length]`, or nil when it does not decode.
    private static func body(_ data: [UInt8], start: Int, length: Int) -> Record? {
        guard length >= 9 else { return nil }
        let id = u64(data, start + 1)
        switch data[start] {
        case 1:
            guard length >= 17 else { return nil }
            let dimension = Int(u32(data, start + 9))
            guard dimension <= (length - 17) / 4 else { return nil }
            let vectorEnd = start + 13 + dimension * 4
            let vector = (0..<dimension).map { Float(bitPattern: u32(data, start + 13 + 4 * $0)) }
            let payloadLength = u32(data, vectorEnd)
            var payload: [UInt8]?
            if payloadLength != noPayload {
                guard Int(payloadLength) == start + length - vectorEnd - 4 else { return nil }
                payload = Array(data[vectorEnd + 4..<start + length])
            } else {
                guard vectorEnd + 4 == start + length else { return nil }
            }
            return .upsert(id: id, vector: vector, payload: payload)
        case 2:
            return length == 9 ? .delete(id: id) : nil
        default:
            return nil
        }
    }

    /// Version 1: `length u32 | crc32c(body) u32 | body`, the length outside the checksum. A
    /// record cut short by a crash can only be the last one; a bad record with whole records
    /// after it is refused.
    private static func decodeV1(_ data: [UInt8], path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        var report = ReplayReport()
        var p = magicV1.count
        while p < data.count {
            guard p + 8 <= data.count else { break }
            let length = Int(u32(data, p)), crc = u32(data, p + 4)
            let start = p + 8
            guard length <= data.count - start else { break }
            guard length >= 9, data.withUnsafeBytes({ Checksum.crc32c(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }) == crc else {
                if start + length == data.count || length < 9 && data.count - p < 8 + 9 { break }
                throw corrupt(path, p, detail: "it fails its checksum and whole records follow it")
            }
            try applyBody(data, start: start, length: length, record: p, path: path, apply: apply)
            report.records += 1
            p = start + length
        }
        report.discardedBytes = data.count - p
        return report
    }

    /// Damage that is not a torn tail. Refused rather than skipped: later records were acknowledged.
    private static func corrupt(_ path: String, _ offset: Int, detail: String) -> CollectionError {
        .invalidDescription(path, reason: "write-ahead log record at byte \(offset) is damaged (\(detail)); refusing to start rather than drop acknowledged writes. Restore the file, or move it aside to start from the last snapshot without the writes logged since")
    }

    // MARK: Appending

    /// Writes `records` at the end of the log (one `write`), returning the sequence number a
    /// `waitUntilDurable` needs. Call under the collection's write lock, before changing the
    /// collection: when it throws (disk full…), the file is cut back and nothing was logged.
    func append(_ records: [Record]) throws -> UInt64 {
        if let refused = state.locked({ state.failure }) { throw ProtocolError(.ioError, "the write-ahead log could not be synced earlier (\(refused)); restart the server") }
        var bytes: [UInt8] = []
        for r in records { Self.encode(r, into: &bytes) }
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
        return state.locked {
            state.appended += 1
            return state.appended
        }
    }

    /// True when record `sequence` needs no waiting (it is on disk, or the mode does not wait);
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

    /// Bytes in sealed segments that a snapshot has not yet made redundant.
    var sealedBytes: Int {
        Self.segments(of: path).reduce(0) { total, s in
            var st = stat()
            return total + (stat(s.path, &st) == 0 ? Int(st.st_size) : 0)
        }
    }

    private static func syncDirectory(of path: String) throws {
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
