import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistProtocol

final class WriteAheadLogTests: XCTestCase {
    private let records: [WriteAheadLog.Record] = [
        .upsert(id: 1, vector: [1, -2, 3.5], payload: Array(#"{"t":"a"}"#.utf8)),
        .upsert(id: UInt64.max, vector: [0, 0, 1], payload: nil),
        .delete(id: 1),
        .upsert(id: 7, vector: [], payload: []),
    ]

    private func replay(_ path: String) throws -> ([WriteAheadLog.Record], WriteAheadLog.ReplayReport) {
        var got: [WriteAheadLog.Record] = []
        let report = try WriteAheadLog.replay(path: path) { got.append($0) }
        return (got, report)
    }

    func testRoundTripAndAppendingAfterReplay() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.wal")
        XCTAssertEqual(try replay(path).1, WriteAheadLog.ReplayReport(), "a missing log replays nothing")
        do {
            let log = try WriteAheadLog(path: path, mode: .always)
            let s1 = try log.append(Array(records[0..<2]))
            let s2 = try log.append(Array(records[2...]))
            try log.waitUntilDurable(s2)
            XCTAssertGreaterThan(s2, s1)
        }
        XCTAssertEqual(try replay(path).0, records)
        do {
            let log = try WriteAheadLog(path: path, mode: .never)
            _ = try log.append([.delete(id: 9)])
        }
        XCTAssertEqual(try replay(path).0, records + [.delete(id: 9)])
        // Sealing moves the records to a segment that replay still reads, before the new ones;
        // dropping the segment forgets them.
        let log = try WriteAheadLog(path: path, mode: .always)
        let segment = try log.seal()
        XCTAssertEqual(log.size, WriteAheadLog.magic.count)
        try log.waitUntilDurable(try log.append([.delete(id: 10)]))
        XCTAssertEqual(try replay(path).0, records + [.delete(id: 9), .delete(id: 10)])
        XCTAssertEqual(try replay(path).1.segments, 1)
        try log.dropSegments(through: segment)
        XCTAssertEqual(try replay(path).0, [.delete(id: 10)])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["a.wal"])
    }

    /// Writes `records`, one append each, to a new log at `path` and returns its bytes.
    private func written(_ records: [WriteAheadLog.Record], at path: String) throws -> [UInt8] {
        let log = try WriteAheadLog(path: path, mode: .always)
        for r in records { try log.waitUntilDurable(try log.append([r])) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func testAFlippedLengthBitInAnEarlyRecordRefusesTheStartAndKeepsTheFile() throws {
        // The defect: the length was outside the checksum, so one flipped bit in the first
        // record's length made replay take all 100 records for a torn tail and cut them off.
        let dir = TemporaryDirectory()
        let path = dir.file("l.wal")
        let hundred = (0..<100).map { WriteAheadLog.Record.upsert(id: UInt64($0), vector: [Float($0), 1], payload: nil) }
        let whole = try written(hundred, at: path)
        XCTAssertEqual(try replay(path).0, hundred)
        for bit in [0, 5, 12, 20, 31] {
            var damaged = whole
            damaged[WriteAheadLog.magic.count + bit / 8] ^= UInt8(1 << (bit % 8))
            dir.write("l.wal", damaged)
            XCTAssertThrowsError(try replay(path), "length bit \(bit)") { error in
                XCTAssertTrue("\(error)".contains("byte 8 is damaged"), "\(error)")
                XCTAssertTrue("\(error)".contains("refusing to start"), "\(error)")
            }
            XCTAssertEqual(dir.read("l.wal"), damaged, "nothing is cut from a log that is refused")
        }
        // The same flip in the middle of the log is refused too; in the last record's length it
        // is indistinguishable from a torn write and only that record is cut.
        var middle = whole
        let recordSize = (whole.count - WriteAheadLog.magic.count) / 100
        middle[WriteAheadLog.magic.count + 50 * recordSize + 1] ^= 0x10
        dir.write("l.wal", middle)
        XCTAssertThrowsError(try replay(path))
        var last = whole
        last[WriteAheadLog.magic.count + 99 * recordSize] ^= 0x04
        dir.write("l.wal", last)
        XCTAssertEqual(try replay(path).0, Array(hundred.prefix(99)))
    }

    func testARecordWhoseChecksumsHoldButWhichDoesNotDecodeRefusesTheStart() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("k.wal")
        var bytes = WriteAheadLog.magic
        WriteAheadLog.encode(.delete(id: 1), into: &bytes)
        // A kind byte of 7 with valid checksums: written by a bug or a newer build, not torn.
        var body: [UInt8] = [UInt8](repeating: 0, count: WriteAheadLog.positionSize) + [7] + [UInt8](repeating: 0, count: 8)
        var length = withUnsafeBytes(of: UInt32(body.count).littleEndian, Array.init)
        let lengthCRC = Checksum.crc32c(length)
        length += withUnsafeBytes(of: lengthCRC.littleEndian, Array.init)
        length += withUnsafeBytes(of: Checksum.crc32c(body, continuing: lengthCRC).littleEndian, Array.init)
        bytes += length + body
        body = []
        dir.write("k.wal", bytes)
        XCTAssertThrowsError(try replay(path)) { XCTAssertTrue("\($0)".contains("do not decode"), "\($0)") }
        XCTAssertEqual(dir.read("k.wal"), bytes)
    }

    func testZeroFilledTailIsCutAsTorn() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("z.wal")
        let whole = try written(Array(records.prefix(2)), at: path)
        dir.write("z.wal", whole + [UInt8](repeating: 0, count: 4096))
        let (got, report) = try replay(path)
        XCTAssertEqual(got, Array(records.prefix(2)))
        XCTAssertEqual(report.discardedBytes, 4096)
        XCTAssertEqual(dir.read("z.wal"), whole)
    }

    /// A version-3 log written by this version (the four records above, appended in two
    /// batches, positions 0:1 to 0:4) and a version-2 log of the same records: both replay to
    /// those records with those positions, and today's writer produces the version-3 bytes.
    func testGoldenLogsReplayAndTheWriterIsStable() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("now.wal")
        do {
            let log = try WriteAheadLog(path: path, mode: .always)
            _ = try log.append(Array(records[0..<2]))
            try log.waitUntilDurable(try log.append(Array(records[2...])))
        }
        if ProcessInfo.processInfo.environment["SHORTLIST_WRITE_GOLDEN"] == "1" { return print("golden WAL: \(Data(dir.read("now.wal")).base64EncodedString())") }
        for text in [Self.goldenVersion3Base64, Self.goldenVersion2Base64] {
            let golden = try XCTUnwrap(Data(base64Encoded: text).map(Array.init))
            var positions: [LogPosition] = []
            var got: [WriteAheadLog.Record] = []
            let report = try WriteAheadLog.replay(path: dir.write("golden.wal", golden), after: .zero) { got.append($0); positions.append($1) }
            XCTAssertEqual(got, records)
            XCTAssertEqual(positions, (1...4).map { LogPosition(term: 0, lsn: UInt64($0)) })
            XCTAssertEqual(report.last, LogPosition(term: 0, lsn: 4))
            XCTAssertEqual(report.discardedBytes, 0)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("golden.wal") { try FileManager.default.removeItem(atPath: dir.file(name)) }
        }
        XCTAssertEqual(dir.read("now.wal"), try XCTUnwrap(Data(base64Encoded: Self.goldenVersion3Base64).map(Array.init)),
                       "the version-3 log writer changed: bump the log version instead")
    }

    static let goldenVersion3Base64 = "U0xXQUwwMDM2AAAAA/xjssHXA1IAAAAAAAAAAAEAAAAAAAAAAQEAAAAAAAAAAwAAAAAAgD8AAADAAABgQAkAAAB7InQiOiJhIn0tAAAA4adhz/bKdZoAAAAAAAAAAAIAAAAAAAAAAf//////////AwAAAAAAAAAAAAAAAACAP/////8ZAAAApDMCikqGpBQAAAAAAAAAAAMAAAAAAAAAAgEAAAAAAAAAIQAAAPT1B0K1B04pAAAAAAAAAAAEAAAAAAAAAAEHAAAAAAAAAAAAAAAAAAAA"
    static let goldenVersion2Base64 = "U0xXQUwwMDImAAAAPk0HWw5TUAgBAQAAAAAAAAADAAAAAACAPwAAAMAAAGBACQAAAHsidCI6ImEifR0AAABXAiDxHi+XSAH//////////wMAAAAAAAAAAAAAAAAAgD//////CQAAAJmCZmMej1mrAgEAAAAAAAAAEQAAAEJQRnzr0++ZAQcAAAAAAAAAAAAAAAAAAAA="

    func testAVersion1LogIsReadAndSetAsideAsASegment() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("v1.wal")
        // Version 1: length | crc32c(body) | body.
        var v1 = WriteAheadLog.magicV1
        for r in records {
            let body = WriteAheadLog.body(of: r)
            v1 += withUnsafeBytes(of: UInt32(body.count).littleEndian, Array.init)
            v1 += withUnsafeBytes(of: Checksum.crc32c(body).littleEndian, Array.init)
            v1 += body
        }
        dir.write("v1.wal", v1)
        let (got, report) = try replay(path)
        XCTAssertEqual(got, records)
        XCTAssertEqual(report.segments, 0)
        XCTAssertEqual(dir.read("v1.wal.1"), v1, "the version-1 file is kept as the first segment")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let log = try WriteAheadLog(path: path, mode: .always)
        try log.waitUntilDurable(try log.append([.delete(id: 4)]))
        XCTAssertEqual(Array(dir.read("v1.wal").prefix(8)), WriteAheadLog.magic)
        XCTAssertEqual(try replay(path).0, records + [.delete(id: 4)])
        XCTAssertEqual(try replay(path).1.segments, 1)
    }

    func testTornTailsAreCutAndEverythingBeforeThemKept() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t.wal")
        do {
            let log = try WriteAheadLog(path: path, mode: .always)
            for r in records { try log.waitUntilDurable(try log.append([r])) }
        }
        let whole = dir.read("t.wal")
        var lastStart = 0
        do {
            var bytes: [UInt8] = []
            for r in records.dropLast() { WriteAheadLog.encode(r, into: &bytes) }
            lastStart = WriteAheadLog.magic.count + bytes.count
        }
        // Every cut inside the last record: the first three records come back, the tail goes.
        for cut in stride(from: lastStart + 1, to: whole.count, by: 3) {
            dir.write("t.wal", Array(whole[0..<cut]))
            let (got, report) = try replay(path)
            XCTAssertEqual(got, Array(records.dropLast()), "cut at \(cut)")
            XCTAssertEqual(report.discardedBytes, cut - lastStart)
            XCTAssertEqual(dir.read("t.wal").count, lastStart, "the file is cut back to the last whole record")
        }
        // A flipped byte in the last record is a torn tail too.
        var flipped = whole
        flipped[whole.count - 2] ^= 0x40
        dir.write("t.wal", flipped)
        XCTAssertEqual(try replay(path).0, Array(records.dropLast()))
        // Appending after a cut continues cleanly.
        let log = try WriteAheadLog(path: path, mode: .always)
        try log.waitUntilDurable(try log.append([.delete(id: 3)]))
        XCTAssertEqual(try replay(path).0, Array(records.dropLast()) + [.delete(id: 3)])
    }

    func testDamageBeforeWholeRecordsAndForeignFilesAreRefused() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("d.wal")
        do {
            let log = try WriteAheadLog(path: path, mode: .always)
            _ = try log.append(records)
        }
        var bytes = dir.read("d.wal")
        bytes[WriteAheadLog.magic.count + 16] ^= 0x01
        dir.write("d.wal", bytes)
        XCTAssertThrowsError(try replay(path)) { XCTAssertTrue("\($0)".contains("refusing to start"), "\($0)") }
        dir.write("d.wal", text: "SLWAL999 something else")
        XCTAssertThrowsError(try replay(path)) { XCTAssertTrue("\($0)".contains("not a Shortlist write-ahead log"), "\($0)") }
    }

    func testConcurrentWritersShareSyncs() throws {
        let dir = TemporaryDirectory()
        let log = try WriteAheadLog(path: dir.file("g.wal"), mode: .always)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<50 {
                lock.lock()
                let s = try! log.append([.upsert(id: UInt64(t * 100 + i), vector: [Float(i)], payload: nil)])
                lock.unlock()
                try! log.waitUntilDurable(s)
            }
        }
        XCTAssertEqual(try replay(dir.file("g.wal")).0.count, 400)
        XCTAssertLessThanOrEqual(log.syncCount, 400)
        XCTAssertGreaterThan(log.syncCount, 0)
    }

    // MARK: Collections

    func testAcknowledgedWritesSurviveWithoutASave() throws {
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeDocumentCollection(in: dir)
        do {
            let c = try ServedCollection(d, durability: .always)
            try c.upsert([Request.Point(id: 40, vector: [0, 0, 0, 1], payload: Array(#"{"title":"Ran"}"#.utf8))])
            try c.upsert([Request.Point(id: 1, vector: [0, 0, 1, 1], payload: nil)])
            XCTAssertEqual(try c.delete([2, 99]), [99])
            XCTAssertGreaterThan(c.logBytes, 8)
            // No save: the process "crashes" here.
        }
        let c = try ServedCollection(d, durability: .always)
        XCTAssertEqual(c.replayed.records, 3)
        XCTAssertEqual(c.count, 6)
        let got = c.get([40, 1, 2])
        XCTAssertEqual(got[0]?.vector, [0, 0, 0, 1])
        XCTAssertEqual(got[0]?.payload.map { String(decoding: $0, as: UTF8.self) }, #"{"title":"Ran"}"#)
        XCTAssertEqual(got[1]?.vector, [0, 0, 1, 1])
        XCTAssertNil(got[1]?.payload)
        XCTAssertNil(got[2])
        // A save makes the log redundant and empties it; reloading gives the same state.
        try c.save()
        XCTAssertEqual(c.logBytes, WriteAheadLog.magic.count)
        XCTAssertEqual(WriteAheadLog.segments(of: dir.file("items.idx.wal")).count, 0, "the sealed segment is deleted")
        let again = try ServedCollection(d, durability: .always)
        XCTAssertEqual(again.replayed.records, 0)
        XCTAssertEqual(again.count, 6)
        XCTAssertEqual(again.get([40])[0]?.vector, [0, 0, 0, 1])
    }

    func testReplayOverANewerSnapshotChangesNothing() throws {
        // A crash between a snapshot's rename and the log's truncation leaves both: replaying
        // the whole log over the snapshot must give the snapshot's state.
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeDocumentCollection(in: dir)
        let c = try ServedCollection(d, durability: .always)
        try c.upsert([Request.Point(id: 5, vector: [1, 1, 0, 0], payload: nil)])
        XCTAssertEqual(try c.delete([5]), [])
        try c.upsert([Request.Point(id: 5, vector: [0, 1, 1, 0], payload: Array("7".utf8))])
        let log = dir.read("items.idx.wal")
        try c.save()
        dir.write("items.idx.wal", log)
        let reloaded = try ServedCollection(d, durability: .always)
        XCTAssertEqual(reloaded.replayed.records, 3)
        XCTAssertEqual(reloaded.get([5])[0]?.vector, [0, 1, 1, 0])
        XCTAssertEqual(reloaded.get([5])[0]?.payload, Array("7".utf8))
        XCTAssertEqual(reloaded.count, 6)
    }

    func testAFullDiskRefusesWritesCleanlyAndSearchesGoOn() throws {
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeDocumentCollection(in: dir)
        let c = try ServedCollection(d, durability: .always)
        let processor = try RequestProcessor(collections: [c])
        let s = processor.makeSession()
        WriteAheadLog.simulatedDiskLimit = c.logBytes + 80
        defer { WriteAheadLog.simulatedDiskLimit = nil }
        XCTAssertEqual(json(processor.handle(#"{"op":"upsert","collection":"items","points":[{"id":50,"vector":[1,1,1,1]}]}"#, session: s))["ok"] as? Bool, true)
        let refused = processor.handle(#"{"op":"upsert","collection":"items","points":[{"id":51,"vector":[1,1,1,1],"payload":{"long":"\#(String(repeating: "x", count: 100))"}}]}"#, session: s)
        XCTAssertEqual(errorCode(refused), "io_error", refused)
        XCTAssertTrue(refused.contains("No space left on device"), refused)
        XCTAssertEqual(errorCode(processor.handle(#"{"op":"delete","collection":"items","ids":[1,2,3,4,5,6]}"#, session: s)), "io_error")
        XCTAssertEqual(c.count, 7, "nothing changed")
        XCTAssertEqual(hitIds(processor.handle(#"{"op":"search","collection":"items","vector":[1,0,0,0],"k":1}"#, session: s)), [1])
        WriteAheadLog.simulatedDiskLimit = nil
        let reloaded = try ServedCollection(d, durability: .always)
        XCTAssertEqual(reloaded.count, 7)
        XCTAssertNil(reloaded.get([51])[0])
    }
}

extension WriteAheadLog {
    /// A record as the log encodes it, at a position tests do not look at.
    static func encode(_ record: Record, into out: inout [UInt8]) {
        encode(record, at: LogPosition(term: 0, lsn: 1), into: &out)
    }
}
