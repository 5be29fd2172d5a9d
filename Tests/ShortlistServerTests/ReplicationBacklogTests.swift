import Foundation
import ShortlistProtocol
@testable import ShortlistServer
import ShortlistTestSupport
import XCTest

/// The log positions a replica is judged by: the backlog's answers, the log's numbering and
/// where a snapshot leaves it.
final class ReplicationBacklogTests: XCTestCase {
    private func encoded(_ id: UInt64, _ p: LogPosition) -> [UInt8] {
        var b: [UInt8] = []
        WriteAheadLog.encode(.delete(id: id), at: p, into: &b)
        return b
    }

    func testTheBacklogAnswersOnlyForPositionsInItsHistory() {
        let backlog = ReplicationBacklog(after: LogPosition(term: 2, lsn: 10), capacityBytes: 1 << 20)
        let positions = [LogPosition(term: 2, lsn: 11), LogPosition(term: 2, lsn: 12), LogPosition(term: 5, lsn: 13)]
        backlog.append(positions.map { encoded($0.lsn, $0) }, terms: positions.map(\.term))
        XCTAssertEqual(backlog.last, LogPosition(term: 5, lsn: 13))
        // From the base, everything; from the middle, the rest.
        let all = backlog.records(after: LogPosition(term: 2, lsn: 10), maximumBytes: 1 << 20, timeout: 0)
        XCTAssertEqual(all?.bytes, positions.flatMap { encoded($0.lsn, $0) })
        XCTAssertEqual(all?.last, LogPosition(term: 5, lsn: 13))
        XCTAssertEqual(backlog.records(after: LogPosition(term: 2, lsn: 12), maximumBytes: 1 << 20, timeout: 0)?.bytes, encoded(13, positions[2]))
        // At least one record per batch, however small the limit.
        XCTAssertEqual(backlog.records(after: LogPosition(term: 2, lsn: 10), maximumBytes: 1, timeout: 0)?.last, positions[0])
        // Up to date: an empty batch after the wait.
        XCTAssertEqual(backlog.records(after: positions[2], maximumBytes: 1 << 20, timeout: 0.01)?.bytes, [])
        // A replica whose record at lsn 12 is of another term has diverged; one ahead of the log,
        // or behind what the backlog keeps, needs a snapshot.
        XCTAssertNil(backlog.records(after: LogPosition(term: 3, lsn: 12), maximumBytes: 1 << 20, timeout: 0))
        XCTAssertNil(backlog.records(after: LogPosition(term: 5, lsn: 14), maximumBytes: 1 << 20, timeout: 0))
        XCTAssertNil(backlog.records(after: LogPosition(term: 2, lsn: 9), maximumBytes: 1 << 20, timeout: 0))
        XCTAssertEqual(backlog.term(at: 10), 2)
        XCTAssertEqual(backlog.term(at: 13), 5)
        XCTAssertNil(backlog.term(at: 14))
    }

    func testTheOldestRecordsGoPastTheCapacityAndAWaitingReaderWakes() {
        let one = encoded(1, LogPosition(term: 1, lsn: 1)).count
        let backlog = ReplicationBacklog(after: .zero, capacityBytes: 3 * one)
        for lsn in 1...5 as ClosedRange<UInt64> { backlog.append([encoded(lsn, LogPosition(term: 1, lsn: lsn))], terms: [1]) }
        XCTAssertNil(backlog.records(after: LogPosition(term: 1, lsn: 1), maximumBytes: 1 << 20, timeout: 0), "lsn 2 is gone")
        XCTAssertEqual(backlog.records(after: LogPosition(term: 1, lsn: 2), maximumBytes: 1 << 20, timeout: 0)?.bytes.count, 3 * one)
        let woke = expectation(description: "reader woken")
        DispatchQueue.global().async {
            let r = backlog.records(after: LogPosition(term: 1, lsn: 5), maximumBytes: 1 << 20, timeout: 5)
            XCTAssertEqual(r?.last, LogPosition(term: 1, lsn: 6))
            woke.fulfill()
        }
        usleep(50_000)
        backlog.append([encoded(6, LogPosition(term: 1, lsn: 6))], terms: [1])
        wait(for: [woke], timeout: 5)
    }

    func testPositionsSurviveASnapshotAndARestartAndGapsAreRefused() throws {
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeDocumentCollection(in: dir)
        do {
            let c = try ServedCollection(d, durability: .always)
            c.begin(term: 4)
            try c.upsert([Request.Point(id: 50, vector: [1, 0, 0, 1], payload: nil)])
            XCTAssertEqual(try c.delete([50, 1]), [])
            XCTAssertEqual(c.logPosition, LogPosition(term: 4, lsn: 3))
            try c.save()
            XCTAssertEqual(c.logBytes, WriteAheadLog.magic.count, "the snapshot emptied the log")
        }
        // The empty log's position comes from the index file's LOGP section.
        let c = try ServedCollection(d, durability: .always)
        XCTAssertEqual(c.logPosition, LogPosition(term: 4, lsn: 3))
        try c.upsert([Request.Point(id: 51, vector: [0, 1, 0, 1], payload: nil)])
        XCTAssertEqual(c.logPosition, LogPosition(term: 4, lsn: 4))
        XCTAssertEqual(try ServedCollection(d, durability: .always).logPosition, LogPosition(term: 4, lsn: 4))
        // Replicated records must follow the log without a gap, in no older a term.
        var gap: [UInt8] = []
        WriteAheadLog.encode(.delete(id: 51), at: LogPosition(term: 4, lsn: 6), into: &gap)
        XCTAssertThrowsError(try c.applyReplicated(gap, after: LogPosition(term: 4, lsn: 4)))
        var older: [UInt8] = []
        WriteAheadLog.encode(.delete(id: 51), at: LogPosition(term: 3, lsn: 5), into: &older)
        XCTAssertThrowsError(try c.applyReplicated(older, after: LogPosition(term: 4, lsn: 4)))
        XCTAssertEqual(c.get([51]).compactMap { $0 }.count, 1, "nothing applied")
        XCTAssertEqual(try c.applyReplicated(older, after: LogPosition(term: 4, lsn: 3)).accepted, false, "not where the log stands")
        XCTAssertThrowsError(try c.applyReplicated([1, 2, 3], after: LogPosition(term: 4, lsn: 4)), "not records")
    }

    func testAPointWhoseRecordNoReplicaCouldTakeIsRefusedOnAClusterMember() throws {
        var limits = ServerLimits()
        limits.maximumLineBytes = 4_096
        let payload = "{\"blurb\":\"" + String(repeating: "x", count: 2_500) + "\"}"
        let line = #"{"op":"upsert","collection":"items","points":[{"id":60,"vector":[1,0,0,1],"payload":"# + payload + "}]}"
        for backlog in [nil, 1 << 20] as [Int?] {
            let dir = TemporaryDirectory()
            let c = try ServedCollection(try ServerFixtures.writeDocumentCollection(in: dir), durability: .always, backlogBytes: backlog)
            let processor = try RequestProcessor(collections: [c], limits: limits)
            let reply = processor.handle(line, session: processor.makeSession())
            // Its record would travel as ~3.4 KB of base64 in a replicate line; 2,304 bytes of
            // records fit in a 4 KiB line.
            XCTAssertEqual(errorCode(reply), backlog == nil ? nil : "too_large", reply)
            XCTAssertEqual(c.get([60])[0] == nil, backlog != nil)
        }
    }
}
