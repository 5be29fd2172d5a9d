import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer

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
        let log = try WriteAheadLog(path: path, mode: .always)
        try log.truncate()
        XCTAssertEqual(try replay(path).0, [])
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
        bytes[WriteAheadLog.magic.count + 12] ^= 0x01
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
        WriteAheadLog.simulatedDiskLimit = c.logBytes + 60
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
