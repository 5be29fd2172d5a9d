import Foundation
import ShortlistClient
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
@testable import ShortlistServer
import ShortlistTestSupport
import XCTest

/// Shards and primaries coordinated by a real etcd on loopback.
final class ClusterTests: XCTestCase {
    /// One server of a cluster: the server and its membership.
    private struct Node {
        let server: RunningServer
        let member: ClusterMember
    }

    private func node(_ description: ServedCollection.Description, etcd: EtcdProcess, shard: Int, shards: Int, name: String, lease: Int = 2) throws -> Node {
        let server = try RunningServer([description], durability: .always)
        let member = try ClusterMember(.init(etcd: etcd.endpoint, collection: description.name, shard: shard, shards: shards,
                                             name: name, advertise: "127.0.0.1:\(server.port)", leaseSeconds: lease))
        server.server.processor.writeGate = { member.writeRefusal() }
        try member.start()
        return Node(server: server, member: member)
    }

    /// Writes a flat cosine index of `rows` of `base` (ids = row numbers) as collection `c` in its own folder.
    private func collection(_ base: VectorMatrix, rows: [Int], in dir: TemporaryDirectory, folder: String) throws -> ServedCollection.Description {
        try FileManager.default.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
        let values = rows.flatMap { base.rowArray($0) }
        let index = try FlatIndex(metric: .cosine, vectors: try VectorMatrix(dimension: base.dimension, values: values), ids: rows.map(UInt64.init))
        let path = dir.file("\(folder)/c.idx")
        try index.save(to: path)
        return ServedCollection.Description(name: "c", indexPath: path)
    }

    /// One server holding every row of `base`, and a two-shard cluster of the same rows.
    private func twoShards(_ base: VectorMatrix, etcd: EtcdProcess, in dir: TemporaryDirectory) throws -> (single: RunningServer, nodes: [Node]) {
        let all = Array(0..<base.count)
        let single = try RunningServer([try collection(base, rows: all, in: dir, folder: "single")])
        var nodes: [Node] = []
        for s in 0..<2 {
            let rows = all.filter { ClusterLayout.shard(of: UInt64($0), shards: 2) == s }
            XCTAssertGreaterThan(rows.count, base.count * 2 / 5, "ids spread over the shards")
            nodes.append(try node(try collection(base, rows: rows, in: dir, folder: "shard\(s)"), etcd: etcd, shard: s, shards: 2, name: "s\(s)"))
        }
        return (single, nodes)
    }

    func testTwoShardsAnswerAsOneServerAndReportAMissingShard() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 600, dimension: 16, seed: 5)
        let (single, nodes) = try twoShards(base, etcd: etcd, in: dir)
        XCTAssertTrue(nodes.allSatisfy(\.member.isPrimary), "each shard's only server is its primary")
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c")
        XCTAssertEqual(cluster.currentTopology.shards, 2)
        let one = try ShortlistClient(port: single.port)
        let queries = Fixtures.clustered(count: 20, dimension: 16, seed: 9)
        for q in 0..<queries.count {
            let merged = try cluster.search(queries.rowArray(q), options: QueryOptions(k: 10))
            let whole = try one.search(collection: "c", vector: queries.rowArray(q), options: QueryOptions(k: 10))
            XCTAssertEqual(merged.missingShards, [])
            XCTAssertEqual(merged.hits.map(\.id), whole.hits.map(\.id), "query \(q)")
            for (a, b) in zip(merged.hits, whole.hits) { XCTAssertEqual(a.score, b.score, accuracy: 1e-6) }
        }
        // Writes go to each id's shard.
        let points = (1_000..<1_010).map { Request.Point(id: UInt64($0), vector: base.rowArray($0 - 1_000)) }
        XCTAssertEqual(try cluster.upsert(points), 10)
        for p in points {
            let home = ClusterLayout.shard(of: p.id, shards: 2)
            let client = try ShortlistClient(port: nodes[home].server.port)
            XCTAssertEqual(try client.get(collection: "c", ids: [p.id]).points.map(\.id), [p.id])
        }
        // A shard that has gone: the others still answer, and the reply says which is missing.
        nodes[1].member.stop()
        nodes[1].server.server.shutdown(timeout: 5)
        let partial = try cluster.search(queries.rowArray(0), options: QueryOptions(k: 10))
        XCTAssertEqual(partial.missingShards, [1])
        XCTAssertEqual(partial.hits.count, 10)
        XCTAssertTrue(partial.hits.allSatisfy { ClusterLayout.shard(of: $0.id, shards: 2) == 0 })
    }

    func testOnePrimaryPerShardAndAReplicaTakesOverWhenItGoes() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 100, dimension: 8, seed: 2)
        let a = try node(try collection(base, rows: Array(0..<100), in: dir, folder: "a"), etcd: etcd, shard: 0, shards: 1, name: "a")
        let b = try node(try collection(base, rows: Array(0..<100), in: dir, folder: "b"), etcd: etcd, shard: 0, shards: 1, name: "b")
        XCTAssertTrue(a.member.isPrimary)
        XCTAssertFalse(b.member.isPrimary)
        // The replica refuses writes and names the primary.
        let replica = try ShortlistClient(port: b.server.port)
        XCTAssertThrowsError(try replica.upsert(collection: "c", points: [Request.Point(id: 500, vector: base.rowArray(0))])) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .notPrimary)
            XCTAssertTrue("\($0)".contains("'a'"), "\($0)")
        }
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c")
        XCTAssertEqual(cluster.currentTopology.primaries, ["127.0.0.1:\(a.server.port)"])
        XCTAssertEqual(try cluster.upsert([Request.Point(id: 500, vector: base.rowArray(0))]), 1)
        // A shard count other than the cluster's is refused.
        XCTAssertThrowsError(try node(try collection(base, rows: [0], in: dir, folder: "x"), etcd: etcd, shard: 0, shards: 3, name: "x")) {
            XCTAssertEqual($0 as? ClusterMember.ConfigurationError, .shardCountDiffers(recorded: 1, given: 3))
        }
        // The primary leaves: the replica takes over within about a third of the lease.
        let left = Date()
        a.member.stop()
        a.server.server.shutdown(timeout: 5)
        var written = false
        while !written && Date().timeIntervalSince(left) < 10 {
            written = (try? cluster.upsert([Request.Point(id: 501, vector: base.rowArray(1))])) == 1
            if !written { usleep(50_000) }
        }
        XCTAssertTrue(written, "no write went through within 10 s of the primary leaving")
        XCTAssertTrue(b.member.isPrimary)
        XCTAssertLessThan(Date().timeIntervalSince(left), 3, "the takeover took longer than the lease")
    }

    func testAPrimaryThatStopsRenewingLosesItsPostWhenItsLeaseExpires() throws {
        // A crashed primary cannot revoke its lease: its post lasts until the TTL runs out.
        let etcd = try EtcdProcess()
        let client = try EtcdClient(endpoint: etcd.endpoint)
        let layout = ClusterLayout(collection: "c")
        _ = try client.createIfAbsent(layout.shardsKey, Array("1".utf8))
        let ghost = try client.grantLease(ttlSeconds: 2)
        XCTAssertTrue(try client.createIfAbsent(layout.primaryKey(shard: 0), Array("ghost".utf8), lease: ghost).created)
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 50, dimension: 8, seed: 4)
        let started = Date()
        let b = try node(try collection(base, rows: Array(0..<50), in: dir, folder: "b"), etcd: etcd, shard: 0, shards: 1, name: "b", lease: 2)
        XCTAssertFalse(b.member.isPrimary)
        XCTAssertEqual(b.member.primaryName, "ghost")
        while !b.member.isPrimary && Date().timeIntervalSince(started) < 10 { usleep(50_000) }
        XCTAssertTrue(b.member.isPrimary, "the post of a primary whose lease expired was not taken")
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 1.0, "taken before the ghost's lease could expire")
    }

    func testTheRouterAnswersForTheClusterAsOneServerWould() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 400, dimension: 16, seed: 8)
        let (single, nodes) = try twoShards(base, etcd: etcd, in: dir)
        var config = Server.Configuration()
        config.port = 0
        config.workers = 4
        let router = try Server(collections: [], configuration: config)
        router.processor.forwarder = ClusterRouter(cluster: try ClusterClient(etcd: etcd.endpoint, collection: "c"))
        try router.start()
        defer { router.shutdown(timeout: 5) }
        let viaRouter = try ShortlistClient(port: router.port), one = try ShortlistClient(port: single.port)
        let q = base.rowArray(17)
        XCTAssertEqual(try viaRouter.search(collection: "c", vector: q, options: QueryOptions(k: 8)).hits.map(\.id),
                       try one.search(collection: "c", vector: q, options: QueryOptions(k: 8)).hits.map(\.id))
        let batch = try viaRouter.searchBatch(collection: "c", vectors: [base.rowArray(3), base.rowArray(250)], options: QueryOptions(k: 5))
        XCTAssertEqual(batch.results.map { $0.first?.id }, [3, 250])
        XCTAssertEqual(batch.results.map(\.count), [5, 5])
        let like = try viaRouter.similar(collection: "c", itemId: 17, options: QueryOptions(k: 5)).hits.map(\.id)
        XCTAssertEqual(like, try one.similar(collection: "c", itemId: 17, options: QueryOptions(k: 5)).hits.map(\.id))
        XCTAssertFalse(like.contains(17))
        // Writes and reads by id land on the ids' shards.
        try viaRouter.upsert(collection: "c", points: [Request.Point(id: 9_000, vector: base.rowArray(5)), Request.Point(id: 9_001, vector: base.rowArray(6))])
        XCTAssertEqual(Set(try viaRouter.get(collection: "c", ids: [9_000, 9_001, 9_002]).points.map(\.id)), [9_000, 9_001])
        XCTAssertEqual(try viaRouter.delete(collection: "c", ids: [9_000]).changed, 1)
        XCTAssertThrowsError(try viaRouter.search(collection: "other", vector: q)) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .unknownCollection)
        }
        XCTAssertThrowsError(try viaRouter.search(collection: "c", vector: [1, 2])) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .dimensionMismatch)
        }
        // A shard gone: the router still answers, and says which shard is missing.
        nodes[0].member.stop()
        nodes[0].server.server.shutdown(timeout: 5)
        let reply = try viaRouter.call(.search(.init(collection: "c", vector: q, query: QueryOptions(k: 5))))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any])
        XCTAssertEqual(object["missing_shards"] as? [Int], [0])
        XCTAssertEqual((object["hits"] as? [Any])?.count, 5)
        // `similar` of an item on the missing shard cannot find its vector: retry later, not "no such item".
        let onMissing = UInt64((0..<400).first { ClusterLayout.shard(of: UInt64($0), shards: 2) == 0 }!)
        XCTAssertThrowsError(try viaRouter.similar(collection: "c", itemId: onMissing)) {
            XCTAssertEqual(($0 as? ProtocolError)?.code, .overloaded)
        }
    }

    func testAMemberThatIsReleasedLeavesTheCluster() throws {
        // A member the program drops (without stop()) must not renew its lease forever from its
        // thread: it revokes it, and its keys go at once rather than after the TTL.
        let etcd = try EtcdProcess()
        let client = try EtcdClient(endpoint: etcd.endpoint)
        let layout = ClusterLayout(collection: "c")
        var member: ClusterMember? = try ClusterMember(.init(etcd: etcd.endpoint, collection: "c", shard: 0, shards: 1, name: "m",
                                                             advertise: "127.0.0.1:1", leaseSeconds: 30))
        try member?.start()
        XCTAssertEqual(try client.get(layout.memberKey(shard: 0, name: "m"))?.text, "127.0.0.1:1")
        XCTAssertEqual(try client.get(layout.primaryKey(shard: 0))?.text, "m")
        member = nil
        let released = Date()
        while (try client.get(layout.memberKey(shard: 0, name: "m"))) != nil && Date().timeIntervalSince(released) < 5 { usleep(50_000) }
        XCTAssertNil(try client.get(layout.memberKey(shard: 0, name: "m")), "a released member still holds its key (lease of 30 s)")
        XCTAssertNil(try client.get(layout.primaryKey(shard: 0)))
    }

    func testSearchesGoOnWhenOneServerOfAShardIsDown() throws {
        // 2 shards × 2 servers each (copies of the shard's rows). One server of shard 0 dies
        // without leaving etcd (a crash: its key stays until its lease runs out): searches pass
        // it over for the shard's other server instead of reporting the shard missing.
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 400, dimension: 16, seed: 12)
        let all = Array(0..<400)
        let single = try RunningServer([try collection(base, rows: all, in: dir, folder: "single")])
        var nodes: [[Node]] = []
        for s in 0..<2 {
            let rows = all.filter { ClusterLayout.shard(of: UInt64($0), shards: 2) == s }
            nodes.append(try (0..<2).map { r in
                try node(try collection(base, rows: rows, in: dir, folder: "s\(s)r\(r)"), etcd: etcd, shard: s, shards: 2, name: "s\(s)r\(r)", lease: 30)
            })
        }
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c")
        XCTAssertEqual(cluster.currentTopology.members.map(\.count), [2, 2])
        nodes[0][1].server.server.shutdown(timeout: 5)
        let one = try ShortlistClient(port: single.port)
        for q in 0..<20 {
            let v = base.rowArray(q * 17)
            let r = try cluster.search(v, options: QueryOptions(k: 10))
            XCTAssertEqual(r.missingShards, [], "query \(q)")
            XCTAssertEqual(r.hits.map(\.id), try one.search(collection: "c", vector: v, options: QueryOptions(k: 10)).hits.map(\.id))
        }
        let shard0 = (0..<400).filter { ClusterLayout.shard(of: UInt64($0), shards: 2) == 0 }.prefix(6).map(UInt64.init)
        for _ in 0..<4 { XCTAssertEqual(try cluster.get(Array(shard0)).missingShards, []) }
    }
}
