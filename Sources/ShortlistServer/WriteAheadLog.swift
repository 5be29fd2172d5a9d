import Foundation
import ShortlistCore
#if canImport(Glibc)
import Glibc
#endif

/// A collection's write-ahead log: every upsert and delete is appended here, and made durable
/// (per `SyncMode`), before its reply is sent. On start the server loads the last index file and
/// replays the log; `save` writes a new index file and then empties the log.
///
/// Layout (little-endian): the magic `SLWAL001`, then records, each
/// `length u32 | crc32c u32 | body` where the CRC covers the body and the body is
/// `kind u8 (1 upsert, 2 delete) | id u64` followed, for an upsert, by
/// `dimension u32 | dimension × f32 | payload length u32 (0xFFFFFFFF: none) | payload bytes`.
/// A record cut short or failing its checksum ends the log: it was never acknowledged (a reply
/// waits for its record to be written whole and synced), so replay stops there and the file is
/// cut back to the last whole record.
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

    static let magic = Array("SLWAL001".utf8)
    static let noPayload = UInt32.max

    let path: String
    let mode: SyncMode
    private let fd: Int32
    /// Bytes in the file (header included).
    private(set) var size: Int
    private let state: SyncState
    private var timer: DispatchSourceTimer?

    /// Shared by the log and its syncer thread (which must not keep the log alive).
    private final class SyncState: @unchecked Sendable {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        let fd: Int32
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
                let ok = fdatasync(fd) == 0
                let reason = ok ? nil : String(cString: strerror(errno))
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
    /// `replay` first on an existing log.
    init(path: String, mode: SyncMode, groupCommit: Bool = true) throws {
        self.path = path
        self.mode = mode
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
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
            AtomicFileWriter.syncDirectory(of: path)
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
            t.setEventHandler { [state] in _ = fdatasync(state.fd) }
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
    }

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
        var header = BinaryWriter()
        header.write(UInt32(body.bytes.count))
        header.write(Checksum.crc32c(body.bytes))
        out.append(contentsOf: header.bytes)
        out.append(contentsOf: body.bytes)
    }

    /// What `replay` found.
    public struct ReplayReport: Equatable, Sendable {
        public var records = 0
        /// Bytes cut off the end (a torn or corrupted last record), 0 when the log was whole.
        public var discardedBytes = 0
    }

    /// Reads every whole record of the log at `path` (if it exists) in order, handing each to
    /// `apply`; cuts a torn or corrupted tail off the file. Refuses a file that is not a log.
    static func replay(path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        guard FileManager.default.fileExists(atPath: path) else { return ReplayReport() }
        let data: [UInt8]
        do { data = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw ProtocolError(.ioError, "\(path): cannot read the write-ahead log: \(error.localizedDescription)")
        }
        let report = try decode(data, path: path, apply: apply)
        if report.discardedBytes > 0 {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0, ftruncate(fd, off_t(data.count - report.discardedBytes)) == 0, fsync(fd) == 0 else {
                throw ProtocolError(.ioError, "\(path): cannot cut the torn tail of the write-ahead log: \(String(cString: strerror(errno)))")
            }
            close(fd)
        }
        return report
    }

    /// Reads the records of a log's bytes (see `replay`; `path` only names it in errors).
    static func decode(_ data: [UInt8], path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        var report = ReplayReport()
        if data.isEmpty { return report }
        guard data.count >= magic.count, Array(data[0..<magic.count]) == magic else {
            throw CollectionError.invalidDescription(path, reason: "not a Shortlist write-ahead log (bad magic); refusing to start rather than lose it")
        }
        var p = magic.count
        func u32(_ at: Int) -> UInt32 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }.littleEndian }
        func u64(_ at: Int) -> UInt64 { data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }.littleEndian }
        while p < data.count {
            // A record cut short by a crash can only be the last one: it runs to the end of the
            // file. A bad record with whole records after it is damage to acknowledged data, and
            // is refused rather than cut.
            guard p + 8 <= data.count else { break }
            let length = Int(u32(p)), crc = u32(p + 4)
            let start = p + 8
            guard start + length <= data.count else { break }
            let body = data[start..<start + length]
            guard length >= 9, body.withUnsafeBytes({ Checksum.crc32c($0) }) == crc else {
                if start + length == data.count || length < 9 && data.count - p < 8 + 9 { break }
                throw corrupt(path, p)
            }
            let id = u64(start + 1)
            let record: Record
            switch data[start] {
            case 1:
                guard length >= 17 else { throw corrupt(path, p) }
                let dimension = Int(u32(start + 9))
                guard dimension <= (length - 17) / 4 else { throw corrupt(path, p) }
                let vectorEnd = start + 13 + dimension * 4
                let vector = (0..<dimension).map { Float(bitPattern: u32(start + 13 + 4 * $0)) }
                let payloadLength = u32(vectorEnd)
                var payload: [UInt8]?
                if payloadLength != noPayload {
                    guard Int(payloadLength) == start + length - vectorEnd - 4 else { throw corrupt(path, p) }
                    payload = Array(data[vectorEnd + 4..<start + length])
                } else {
                    guard vectorEnd + 4 == start + length else { throw corrupt(path, p) }
                }
                record = .upsert(id: id, vector: vector, payload: payload)
            case 2:
                guard length == 9 else { throw corrupt(path, p) }
                record = .delete(id: id)
            default:
                throw corrupt(path, p)
            }
            try apply(record)
            report.records += 1
            p = start + length
        }
        report.discardedBytes = data.count - p
        return report
    }

    /// A record in the middle of the log that fails its checksum, or whose checksum holds but
    /// whose contents make no sense. Refused rather than skipped: later records were acknowledged.
    private static func corrupt(_ path: String, _ offset: Int) -> CollectionError {
        .invalidDescription(path, reason: "write-ahead log record at byte \(offset) is corrupted and whole records follow it; refusing to start rather than drop acknowledged writes")
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

    /// Empties the log after a snapshot made every record redundant (call with writes excluded).
    func truncate() throws {
        guard ftruncate(fd, off_t(Self.magic.count)) == 0, fsync(fd) == 0 else {
            throw ProtocolError(.ioError, "\(path): cannot empty the write-ahead log: \(String(cString: strerror(errno)))")
        }
        size = Self.magic.count
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
