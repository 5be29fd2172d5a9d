import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The log's records and sync modes; encoding records and replaying a log (both versions), torn
/// tails and damage included.
extension WriteAheadLog {
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

        var id: UInt64 {
            switch self {
            case let .upsert(id, _, _), let .delete(id): return id
            }
        }

        /// The payload the record leaves its id with (nil: none, or deleted).
        var payload: [UInt8]? {
            if case let .upsert(_, _, payload) = self { return payload }
            return nil
        }

        /// Sets the record's id in `index` to the state it logged (replay, replication, and a
        /// compaction's journal): an upsert's vector, or absent. Payloads are the caller's.
        func apply(to index: any MutableVectorIndex) throws {
            switch self {
            case let .upsert(id, vector, _): try index.upsert(vector, id: id)
            case let .delete(id): if index.contains(id: id) { try index.delete(id: id) }
            }
        }
    }

    // MARK: Encoding

    /// A record's bytes in the log: header, then its position and `body(of:)`.
    static func encode(_ record: Record, at position: LogPosition, into out: inout [UInt8]) {
        var body = BinaryWriter()
        body.write(position.term)
        body.write(position.lsn)
        body.write(bytes: self.body(of: record))
        var length = BinaryWriter()
        length.write(UInt32(body.bytes.count))
        var header = length
        header.write(Checksum.crc32c(length.bytes))
        header.write(Checksum.crc32c(body.bytes, continuing: Checksum.crc32c(length.bytes)))
        out.append(contentsOf: header.bytes)
        out.append(contentsOf: body.bytes)
    }

    /// A record's own bytes (a version-1 or -2 body; version 3 puts the position first).
    static func body(of record: Record) -> [UInt8] {
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
        return body.bytes
    }

    /// What `replay` found.
    public struct ReplayReport: Equatable, Sendable {
        public var records = 0
        /// Bytes cut off the end (a torn last record), 0 when the log was whole.
        public var discardedBytes = 0
        /// Sealed segments replayed before the current log.
        public var segments = 0
        /// The position of the last record replayed (the start's when there was none).
        public var last = LogPosition.zero
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

    /// `replay`, without the positions.
    static func replay(path: String, apply: (Record) throws -> Void) throws -> ReplayReport {
        try replay(path: path, after: .zero) { record, _ in try apply(record) }
    }

    /// Replays the sealed segments of the log at `path`, then the log itself (each if it
    /// exists), handing every whole record to `apply` in order with its position; cuts a torn
    /// tail off a file (see the type's notes). Refuses a file that is not a log, and damage that
    /// is not a torn tail. Records of versions 1 and 2, which carry no position, are numbered on
    /// from the previous record's (from `start`, the snapshot's position, for the first). Such a
    /// log is sealed as a segment afterwards, so that `init` starts a version-3 file.
    static func replay(path: String, after start: LogPosition, apply: (Record, LogPosition) throws -> Void) throws -> ReplayReport {
        var report = ReplayReport()
        report.last = start
        let sealed = segments(of: path)
        for segment in sealed {
            let r = try replayFile(segment.path, after: report.last, apply: apply)
            report.records += r.records
            report.discardedBytes += r.discardedBytes
            report.last = r.last
            report.segments += 1
        }
        guard FileManager.default.fileExists(atPath: path) else { return report }
        let r = try replayFile(path, after: report.last, apply: apply)
        report.records += r.records
        report.discardedBytes += r.discardedBytes
        report.last = r.last
        report.version = r.version
        if r.version > 0 && r.version < 3 {
            let target = path + ".\((sealed.last?.number ?? 0) + 1)"
            guard rename(path, target) == 0 else {
                throw ProtocolError(.ioError, "\(path): cannot set the version-\(r.version) log aside as \(target): \(String(cString: strerror(errno)))")
            }
            try syncDirectory(of: path)
        }
        return report
    }

    /// `replay` of one file.
    private static func replayFile(_ path: String, after start: LogPosition, apply: (Record, LogPosition) throws -> Void) throws -> ReplayReport {
        let data: [UInt8]
        do { data = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw ProtocolError(.ioError, "\(path): cannot read the write-ahead log: \(error.localizedDescription)")
        }
        let report = try decode(data, path: path, after: start, apply: apply)
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
    static func decode(_ data: [UInt8], path: String, after start: LogPosition, apply: (Record, LogPosition) throws -> Void) throws -> ReplayReport {
        var report = ReplayReport()
        report.last = start
        if data.isEmpty { return report }
        // Versions 1 and 2 carry no positions: their records follow on from the last.
        var last = start
        let numbered: (Record) throws -> Void = { record in
            last = LogPosition(term: last.term, lsn: last.lsn + 1)
            try apply(record, last)
        }
        guard data.count >= magic.count else {
            if magic.starts(with: data) || magicV2.starts(with: data) || magicV1.starts(with: data) {
                // A log whose header write was cut: nothing was ever appended to it.
                report.discardedBytes = data.count
                return report
            }
            throw CollectionError.invalidDescription(path, reason: "not a Shortlist write-ahead log (bad magic); refusing to start rather than lose it")
        }
        let head = Array(data[0..<magic.count])
        if head == magicV1 {
            report = try decodeV1(data, path: path, apply: numbered)
            report.version = 1
            report.last = last
            return report
        }
        let version = head == magic ? 3 : 2
        guard head == magic || head == magicV2 else {
            throw CollectionError.invalidDescription(path, reason: "not a Shortlist write-ahead log, or a newer version than this build reads (magic \(String(decoding: head.map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x3F }, as: UTF8.self))); refusing to start rather than lose it")
        }
        report.version = version
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
            if version == 3 {
                guard length >= positionSize else { throw corrupt(path, p, detail: "its checksum holds but it is too short to hold its position") }
                let position = LogPosition(term: u64(data, start), lsn: u64(data, start + 8))
                try applyBody(data, start: start + positionSize, length: length - positionSize, record: p, path: path) { try apply($0, position) }
                last = max(last, position)
            } else {
                try applyBody(data, start: start, length: length, record: p, path: path, apply: numbered)
            }
            report.records += 1
            p = start + length
        }
        report.discardedBytes = data.count - p
        report.last = last
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

    /// The offset of the first version-2 or -3 record after `p` whose checks all hold, if any.
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
}
