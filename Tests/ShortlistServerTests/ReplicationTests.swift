import Foundation
import ShortlistClient
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
@testable import ShortlistServer
import ShortlistTestSupport
import XCTest

/// Log shipping within a shard, in process, with a real etcd: a primary's writes reach its
/// replica before they are acknowledged, the replica takes over with them, and a server that
/// comes back catches up from the backlog or from a snapshot.
final class ReplicationTests: XCTestCase {
    private final class Node {
        let description: ServedCollection.Description
        let server: RunningServer
        let member: ClusterMember
        var collection: ServedCollection { server.server.processor.collections["c"]! }

        init(_ description: ServedCollection.Description, etcd: EtcdProcess, name: String, backlogBytes: Int = 1 << 20, ackReplicas: Int = 1) throws {
            self.description = description
            server = try RunningServer([description], durability: .always, backlogBytes: backlogBytes)
            member = try ClusterMember(.init(etcd: etcd.endpoint, collection: "c", shard: 0, shards: 1, name: name,
                                             advertise: "127.0.0.1:\(server.port)", leaseSeconds: 2))
            let member = self.member
            server.server.processor.writeGate = { member.writeRefusal() }
            server.server.processor.replicationGate = { member.replicationRefusal(term: $0) }
            member.replicate(server.server.processor.collections["c"]!, ackReplicas: ackReplicas, ackTimeout: 5)
            try member.start()
        }

        func stop() {
            member.stop()
            server.server.shutdown(timeout: 5)
        }
    }

    private func collection(_ base: VectorMatrix, in dir: TemporaryDirectory, folder: String) throws -> ServedCollection.Description {
        try FileManager.default.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
        let index = try FlatIndex(metric: .cosine, vectors: base, ids: (0..<base.count).map(UInt64.init))
        let path = dir.file("\(folder)/c.idx")
        try index.save(to: path)
        return ServedCollection.Description(name: "c", indexPath: path)
    }

    private func waitFor(_ what: String, seconds: Double = 10, _ condition: () -> Bool) {
        let until = Date().addingTimeInterval(seconds)
        while !condition() && Date() < until { usleep(20_000) }
        XCTAssertTrue(condition(), "\(what) within \(seconds) s")
    }

    /// Upserts ids `range` through the cluster client, retrying each until acknowledged.
    private func write(_ range: Range<Int>, _ cluster: ClusterClient, dimension: Int) {
        for id in range {
            var v = [Float](repeating: 0, count: dimension)
            v[id % dimension] = 1
            v[(id + 1) % dimension] = Float(id % 7) + 0.5
            let p = Request.Point(id: UInt64(id), vector: v, payload: Array("{\"n\":\(id)}".utf8))
            var done = false
            let until = Date().addingTimeInterval(10)
            while !done && Date() < until {
                done = (try? cluster.upsert([p])) == 1
                if !done { usleep(20_000) }
            }
            XCTAssertTrue(done, "upsert \(id)")
        }
    }

    private func points(_ ids: [UInt64], on node: Node) -> [StoredPoint?] { node.collection.get(ids) }

    func testTheReplicaHasEveryAcknowledgedWriteTakesOverWithThemAndAReturningServerCatchesUp() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 200, dimension: 8, seed: 3)
        var a: Node? = try Node(try collection(base, in: dir, folder: "a"), etcd: etcd, name: "a")
        let b = try Node(try collection(base, in: dir, folder: "b"), etcd: etcd, name: "b")
        waitFor("a primary") { a!.member.isPrimary || b.member.isPrimary }
        let (primary, replica) = a!.member.isPrimary ? (a!, b) : (b, a!)
        XCTAssertFalse(replica.member.isPrimary)
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c")
        write(1_000..<1_040, cluster, dimension: 8)
        XCTAssertEqual(try cluster.delete([3, 4, 1_000]), 3)
        // Acknowledged with --ack-replicas 1: the replica has them already, nothing to wait for.
        let written = (1_001..<1_040).map(UInt64.init)
        XCTAssertEqual(points(written, on: replica).compactMap { $0 }.count, written.count)
        XCTAssertEqual(points(written, on: replica).map { $0?.payload }, points(written, on: primary).map { $0?.payload })
        XCTAssertNil(points([3, 4, 1_000], on: replica).compactMap { $0 }.first, "deletes are replicated")
        XCTAssertEqual(replica.collection.logPosition, primary.collection.logPosition)
        XCTAssertEqual(replica.collection.count, primary.collection.count)
        XCTAssertGreaterThan(primary.collection.logPosition.term, 0, "records carry the primary's term")
        // Only the primary etcd names may replicate: another term is refused, as is any sender
        // to the primary itself.
        for (node, term) in [(replica, primary.collection.logPosition.term + 1), (replica, 1), (primary, primary.collection.logPosition.term)] {
            XCTAssertThrowsError(try ShortlistClient(port: node.server.port).call(.replicate(.init(collection: "c", term: term)))) {
                XCTAssertEqual(($0 as? ProtocolError)?.code, .staleTerm, "\($0)")
            }
        }
        // stats shows where each log stands and what the replica confirmed.
        let stats = try JSONSerialization.jsonObject(with: Data(try ShortlistClient(port: primary.server.port).stats())) as? [String: Any]
        let c = (stats?["collections"] as? [String: Any])?["c"] as? [String: Any]
        XCTAssertEqual(((c?["log_position"] as? [String: Any])?["lsn"] as? NSNumber)?.uint64Value, primary.collection.logPosition.lsn)
        XCTAssertEqual((c?["replicas"] as? [String: [String: Any]])?["127.0.0.1:\(replica.server.port)"]?["confirmed_lsn"] as? NSNumber,
                       NSNumber(value: primary.collection.logPosition.lsn))

        // The primary leaves: the replica takes over, with every write.
        let oldTerm = primary.collection.logPosition.term
        let primaryDescription = primary.description
        primary.stop()
        if primary === a { a = nil }
        waitFor("the replica takes over") { replica.member.isPrimary }
        XCTAssertEqual(points(written, on: replica).compactMap { $0 }.count, written.count)
        // With no replica left to confirm them, writes are applied but not acknowledged.
        XCTAssertThrowsError(try ShortlistClient(port: replica.server.port, timeout: 30).upsert(collection: "c", points: [Request.Point(id: 1_040, vector: base.rowArray(1))])) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .notReplicated, "\($0)")
        }

        // The old primary comes back on its files: a replica now, it catches up from the backlog,
        // and writes are acknowledged again, in the new term.
        let back = try Node(primaryDescription, etcd: etcd, name: primary === b ? "b" : "a")
        waitFor("the returning server catches up") { back.collection.logPosition == replica.collection.logPosition }
        XCTAssertFalse(back.member.isPrimary)
        write(1_040..<1_050, cluster, dimension: 8)
        XCTAssertGreaterThan(replica.collection.logPosition.term, oldTerm, "a new term")
        let all = (1_001..<1_050).map(UInt64.init)
        XCTAssertEqual(points(all, on: back).compactMap { $0 }.count, all.count)
        XCTAssertEqual(back.collection.count, replica.collection.count)
        back.stop()
        replica.stop()
    }

    func testAReplicaTheBacklogNoLongerReachesGetsASnapshot() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 100, dimension: 8, seed: 5)
        // A backlog of 2 KiB: about 20 records of 8 floats with payloads.
        let a = try Node(try collection(base, in: dir, folder: "a"), etcd: etcd, name: "a", backlogBytes: 2_048, ackReplicas: 0)
        waitFor("a primary") { a.member.isPrimary }
        var b: Node? = try Node(try collection(base, in: dir, folder: "b"), etcd: etcd, name: "b", backlogBytes: 2_048, ackReplicas: 0)
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c")
        write(500..<510, cluster, dimension: 8)
        waitFor("the replica has them") { b!.collection.logPosition == a.collection.logPosition }
        let bDescription = b!.description
        b!.stop()
        b = nil
        // Shipped in the background (--ack-replicas 0): writes go on without the replica.
        write(510..<600, cluster, dimension: 8)
        XCTAssertEqual(try cluster.delete([1, 2]), 2)
        let returning = try Node(bDescription, etcd: etcd, name: "b", backlogBytes: 2_048, ackReplicas: 0)
        waitFor("the returning server installs a snapshot") { returning.collection.logPosition == a.collection.logPosition }
        let ids = (500..<600).map(UInt64.init)
        XCTAssertEqual(points(ids, on: returning).compactMap { $0 }.count, ids.count)
        XCTAssertEqual(points(ids, on: returning).map { $0?.payload }, points(ids, on: a).map { $0?.payload })
        XCTAssertNil(points([1, 2], on: returning).compactMap { $0 }.first)
        XCTAssertEqual(returning.collection.count, a.collection.count)
        // The snapshot replaced the returning server's files: it restarts on them as it is.
        returning.stop()
        let reloaded = try ServedCollection(bDescription, durability: .always)
        XCTAssertEqual(reloaded.count, a.collection.count)
        XCTAssertEqual(reloaded.logPosition, a.collection.logPosition)
        a.stop()
    }

    func testWithThreeServersAndOneConfirmationWritesGoOnWhenAnyOneServerGoes() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 100, dimension: 8, seed: 7)
        var nodes = try ["a", "b", "c"].map { try Node(try collection(base, in: dir, folder: $0), etcd: etcd, name: $0) }
        waitFor("a primary") { nodes.contains { $0.member.isPrimary } }
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c")
        write(2_000..<2_020, cluster, dimension: 8)
        // A replica goes: the other still confirms, and writes are acknowledged at once.
        let replica = nodes.firstIndex { !$0.member.isPrimary }!
        let gone = nodes.remove(at: replica)
        gone.stop()
        var started = Date()
        write(2_020..<2_040, cluster, dimension: 8)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4, "no write waited for the ack timeout")
        // It comes back and catches up; then the primary goes: the replica with the newest log
        // takes over, the other confirms its writes, and none acknowledged is lost.
        let back = try Node(gone.description, etcd: etcd, name: gone.member.configuration.name)
        nodes.append(back)
        let primary = nodes.firstIndex { $0.member.isPrimary }!
        waitFor("the returning replica catches up") { back.collection.logPosition == nodes[primary].collection.logPosition }
        nodes.remove(at: primary).stop()
        started = Date()
        write(2_040..<2_060, cluster, dimension: 8)
        print("three servers: writes went on \(String(format: "%.2f", Date().timeIntervalSince(started))) s after the primary left")
        let newPrimary = try XCTUnwrap(nodes.first { $0.member.isPrimary })
        let ids = (2_000..<2_060).map(UInt64.init)
        for n in nodes {
            waitFor("every write on \(n.member.configuration.name)") { self.points(ids, on: n).compactMap { $0 }.count == ids.count }
        }
        XCTAssertEqual(newPrimary.collection.count, nodes.first { $0 !== newPrimary }?.collection.count)
        for n in nodes { n.stop() }
    }
}
