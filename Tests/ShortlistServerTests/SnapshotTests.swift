import Foundation
import Synchronization
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistProtocol

/// Snapshots (`ServedCollection.save`): one at a time, from a consistent copy, never blocking
/// searches or writes on the disk, never writing a file the user owns.
final class SnapshotTests: XCTestCase {
    func testConcurrentSavesDuringWritesLoseNothing() throws {
        let dir = TemporaryDirectory()
        let (d, _) = try ServerFixtures.writeGraphCollection(in: dir, count: 400)
        let c = try ServedCollection(d, durability: .always)
        let lock = NSLock()
        var expected: [UInt64: [Float]] = [:]
        var saveErrors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 6) { t in
            if t < 3 {
                // Three writers, each on its own ids.
                for i in 0..<60 {
                    let id = UInt64(10_000 + t * 1_000 + i)
                    let v = (0..<16).map { Float(($0 + i + t) % 7) + 0.5 }
                    try! c.upsert([Request.Point(id: id, vector: v, payload: Array("{\"t\":\(t)}".utf8))])
                    lock.lock(); expected[id] = v; lock.unlock()
                    if i % 7 == 0 { _ = try! c.delete([UInt64(t * 100 + i)]); lock.lock(); expected[UInt64(t * 100 + i)] = []; lock.unlock() }
                }
            } else {
                for _ in 0..<8 {
                    do { try c.save() } catch { lock.lock(); saveErrors.append("\(error)"); lock.unlock() }
                }
            }
        }
        XCTAssertEqual(saveErrors, [])
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(names.filter { $0.contains(".tmp-") }, [], "no temporary file is left behind")
        // The index file alone (no log replay) loads; with the log, every write is there.
        XCTAssertNoThrow(try IndexLoader.load(path: d.indexPath))
        let reloaded = try ServedCollection(d, durability: .always)
        for (id, v) in expected {
            let got = reloaded.get([id])[0]
            if v.isEmpty { XCTAssertNil(got, "id \(id) was deleted") } else { XCTAssertNotNil(got, "id \(id)") }
        }
        XCTAssertEqual(reloaded.count, c.count)
    }

    func testSearchesAndWritesGoOnWhileASnapshotIsWritten() throws {
        let dir = TemporaryDirectory()
        let (d, base) = try ServerFixtures.writeGraphCollection(in: dir, count: 300)
        let c = try ServedCollection(d, durability: .always)
        try c.upsert([Request.Point(id: 5_000, vector: base.rowArray(3), payload: nil)])
        let inWrite = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        c.afterSnapshotCopy = {
            inWrite.signal()
            release.wait()
        }
        let saved = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? c.save()
            saved.signal()
        }
        XCTAssertEqual(inWrite.wait(timeout: .now() + 10), .success)
        // The snapshot is "writing to a slow disk" now: a write and searches must not wait for it.
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? c.upsert([Request.Point(id: 5_001, vector: base.rowArray(4), payload: nil)])
            for _ in 0..<20 { _ = try? c.search(base.rowArray(7), k: 5, parameters: .default, filter: .init(), withPayload: false) }
            done.signal()
        }
        let finished = done.wait(timeout: .now() + 10)
        release.signal()
        XCTAssertEqual(finished, .success, "a write and searches waited for the snapshot's disk writes")
        XCTAssertEqual(saved.wait(timeout: .now() + 10), .success)
        // The write after the copy is not in the snapshot, but in the log that survives it.
        XCTAssertTrue(c.isDirty)
        c.afterSnapshotCopy = nil
        let reloaded = try ServedCollection(d, durability: .always)
        XCTAssertEqual(reloaded.replayed.records, 1)
        XCTAssertNotNil(reloaded.get([5_000])[0])
        XCTAssertNotNil(reloaded.get([5_001])[0])
    }

    func testASecondSaveJoinsTheOneRunning() throws {
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeDocumentCollection(in: dir)
        let c = try ServedCollection(d, durability: .always)
        try c.upsert([Request.Point(id: 9, vector: [1, 2, 3, 4], payload: nil)])
        let inWrite = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        c.afterSnapshotCopy = { inWrite.signal(); release.wait() }
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { try? c.save() }
        XCTAssertEqual(inWrite.wait(timeout: .now() + 10), .success)
        c.afterSnapshotCopy = nil
        DispatchQueue.global().async(group: group) { try? c.save() }
        usleep(50_000)
        release.signal()
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(c.snapshots.completed, 1, "the second save found its changes in the first one's snapshot")
        XCTAssertFalse(c.isDirty)
    }

    func testBackgroundSnapshotFailuresReachStats() throws {
        let dir = TemporaryDirectory()
        let sub = dir.file("gone")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let index = try FlatIndex(metric: .l2, vectors: try VectorMatrix(dimension: 2, values: [0, 0, 1, 1]), ids: [1, 2])
        try index.save(to: sub + "/x.idx")
        let c = try ServedCollection(.init(name: "x", indexPath: sub + "/x.idx"), durability: .always, snapshotLogBytes: 16)
        let reported = Mutex<[String]>([])
        c.report = { m in reported.withLock { $0.append(m) } }
        let processor = try RequestProcessor(collections: [c])
        let s = processor.makeSession()
        // The index file can no longer be replaced: a snapshot's rename fails.
        let target = sub + "/x.idx"
        try FileManager.default.removeItem(atPath: target)
        try FileManager.default.createDirectory(atPath: target + "/blocker", withIntermediateDirectories: true)
        for i in 0..<3 {
            XCTAssertEqual(json(processor.handle(#"{"op":"upsert","collection":"x","points":[{"id":\#(10 + i),"vector":[1,\#(i)]}]}"#, session: s))["ok"] as? Bool, true)
        }
        let deadline = Date().addingTimeInterval(10)
        while c.snapshots.failed == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertGreaterThan(c.snapshots.failed, 0)
        let stats = result(processor.handle(#"{"op":"stats"}"#, session: s))
        let snap = ((stats["collections"] as! [String: Any])["x"] as! [String: Any])["snapshots"] as! [String: Any]
        XCTAssertGreaterThan(snap["failed"] as! Int, 0)
        XCTAssertTrue((snap["last_error"] as? String)?.contains("saving collection 'x'") == true, "\(snap)")
        XCTAssertTrue(reported.withLock { $0 }.contains { $0.contains("background snapshot failed") })
    }

    func testSaveNeverWritesTheUsersPayloadFile() throws {
        let dir = TemporaryDirectory()
        let index = try FlatIndex(metric: .l2, vectors: try VectorMatrix(dimension: 2, values: [0, 0, 1, 1]), ids: [1, 2])
        try index.save(to: dir.file("i.idx"))
        // The user's own file, with vectors beside the payloads.
        let users = #"{"id":1,"vector":[0,0],"payload":{"name":"a"}}"# + "\n" + #"{"id":2,"vector":[1,1],"payload":{"name":"b"}}"# + "\n"
        dir.write("items.jsonl", text: users)
        let d = ServedCollection.Description(name: "i", indexPath: dir.file("i.idx"), payloadPath: dir.file("items.jsonl"))
        do {
            let c = try ServedCollection(d, durability: .always)
            XCTAssertEqual(c.payloadCount, 2)
            try c.upsert([Request.Point(id: 3, vector: [2, 2], payload: Array(#"{"name":"c"}"#.utf8))])
            _ = try c.delete([1])
            try c.save()
        }
        XCTAssertEqual(String(decoding: dir.read("items.jsonl"), as: UTF8.self), users, "the user's file is untouched")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.file("i.idx.payloads.jsonl")))
        // Restarted with the same description: the saved state, not the seed file, is read.
        let c = try ServedCollection(d, durability: .always)
        XCTAssertEqual(c.payloadSource, dir.file("i.idx.payloads.jsonl"))
        XCTAssertNil(c.get([1])[0])
        XCTAssertEqual(c.get([3])[0]?.payload, Array(#"{"name":"c"}"#.utf8))
        XCTAssertEqual(c.get([2])[0]?.payload, Array(#"{"name":"b"}"#.utf8))
        // A missing payload file is a clear error (when the server has no file of its own yet).
        try index.save(to: dir.file("j.idx"))
        XCTAssertThrowsError(try ServedCollection(.init(name: "j", indexPath: dir.file("j.idx"), payloadPath: dir.file("nope.jsonl")))) { error in
            XCTAssertTrue("\(error)".contains("nope.jsonl does not exist"), "\(error)")
        }
    }
}
