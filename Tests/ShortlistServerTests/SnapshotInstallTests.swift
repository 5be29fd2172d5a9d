import Foundation
import ShortlistProtocol
@testable import ShortlistServer
import ShortlistTestSupport
import XCTest

/// A replica installing its primary's snapshot, without the network.
final class SnapshotInstallTests: XCTestCase {
    /// A primary with changes of its own, and a replica of the same collection without them.
    private func pair() throws -> (primary: ServedCollection, replica: ServedCollection, replicaDescription: ServedCollection.Description) {
        let p = TemporaryDirectory(), r = TemporaryDirectory()
        let primary = try ServedCollection(try ServerFixtures.writeDocumentCollection(in: p), durability: .always)
        primary.begin(term: 9)
        try primary.upsert([Request.Point(id: 70, vector: [0, 0, 0, 1], payload: Array(#"{"title":"New"}"#.utf8))])
        _ = try primary.delete([1])
        let d = try ServerFixtures.writeDocumentCollection(in: r)
        addTeardownBlock { _ = (p, r) }
        return (primary, try ServedCollection(d, durability: .always), d)
    }

    private func send(_ snapshot: (index: [UInt8], payloads: [UInt8]?, position: LogPosition), to replica: ServedCollection) throws {
        var offset = 0
        while offset < snapshot.index.count {
            let end = min(snapshot.index.count, offset + 100)
            XCTAssertEqual(try replica.installPart(.index, offset: offset, data: Array(snapshot.index[offset..<end])), end)
            offset = end
        }
        if let payloads = snapshot.payloads { _ = try replica.installPart(.payloads, offset: 0, data: payloads) }
    }

    func testAnInstalledSnapshotReplacesTheCollectionItsFilesAndItsLog() throws {
        let (primary, replica, d) = try pair()
        try replica.upsert([Request.Point(id: 80, vector: [1, 1, 0, 0], payload: nil)])  // diverged
        let snapshot = try primary.snapshotFiles()
        XCTAssertEqual(snapshot.position, LogPosition(term: 9, lsn: 2))
        try send(snapshot, to: replica)
        XCTAssertThrowsError(try replica.installPart(.index, offset: 5, data: [1]), "parts come in order")
        XCTAssertThrowsError(try replica.install(at: LogPosition(term: 9, lsn: 3)), "the snapshot holds another position")
        try replica.install(at: snapshot.position)
        for c in [replica, try ServedCollection(d, durability: .always)] {
            XCTAssertEqual(c.logPosition, snapshot.position)
            XCTAssertEqual(c.count, primary.count)
            XCTAssertEqual(c.get([70])[0]?.payload, Array(#"{"title":"New"}"#.utf8))
            XCTAssertNil(c.get([80])[0], "the replica's own change is gone")
            XCTAssertNil(c.get([1])[0])
        }
    }

    func testASnapshotOfTheReplicasOwnCannotOverwriteAnInstall() throws {
        let (primary, replica, d) = try pair()
        try replica.upsert([Request.Point(id: 80, vector: [1, 1, 0, 0], payload: nil)])
        let snapshot = try primary.snapshotFiles()
        try send(snapshot, to: replica)
        // The replica's own save takes its copy, then is held before writing its files while
        // the install runs; the save must not then write its older copy over the install.
        let copied = DispatchSemaphore(value: 0), installed = DispatchSemaphore(value: 0)
        replica.afterSnapshotCopy = {
            copied.signal()
            _ = installed.wait(timeout: .now() + 1)
        }
        let saved = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? replica.save()
            saved.signal()
        }
        copied.wait()
        DispatchQueue.global().async {
            do { try replica.install(at: snapshot.position) } catch { XCTFail("install: \(error)") }
            installed.signal()
        }
        saved.wait()
        XCTAssertEqual(installed.wait(timeout: .now() + 10), .success)
        replica.afterSnapshotCopy = nil
        let reloaded = try ServedCollection(d, durability: .always)
        XCTAssertEqual(reloaded.logPosition, snapshot.position)
        XCTAssertNil(reloaded.get([80])[0])
        XCTAssertNotNil(reloaded.get([70])[0])
    }
}
