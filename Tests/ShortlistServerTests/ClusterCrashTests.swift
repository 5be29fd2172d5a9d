import Foundation
import ShortlistClient
import ShortlistCore
import ShortlistIndex
import ShortlistProtocol
@testable import ShortlistServer
import ShortlistTestSupport
import Synchronization
import XCTest

/// SIGKILL of a shard's primary during writes, on real `shortlist serve` processes: 2 shards ×
/// 2 servers with `--ack-replicas 1`, etcd on loopback. No acknowledged write may be lost,
/// searches must keep answering, and the killed server, restarted as a supervisor would, must
/// catch up. The test prints the windows it measured.
final class ClusterCrashTests: XCTestCase {
    private struct Server {
        let arguments: [String]
        var process: Process
        var port: Int
    }

    private func shardIndex(_ base: VectorMatrix, shard: Int, at path: String) throws {
        let rows = (0..<base.count).filter { ClusterLayout.shard(of: UInt64($0), shards: 2) == shard }
        let values = rows.flatMap { base.rowArray($0) }
        try FlatIndex(metric: .cosine, vectors: try VectorMatrix(dimension: base.dimension, values: values), ids: rows.map(UInt64.init)).save(to: path)
    }

    func testKillingAPrimaryDuringWritesLosesNoAcknowledgedWriteAndSearchesGoOn() throws {
        let etcd = try EtcdProcess()
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 400, dimension: 8, seed: 11)
        var servers: [[Server]] = []
        for shard in 0..<2 {
            var pair: [Server] = []
            for copy in 0..<2 {
                let folder = dir.file("s\(shard)-\(copy)")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try shardIndex(base, shard: shard, at: folder + "/c.idx")
                let arguments = ["--collection", "c=\(folder)/c.idx", "--fsync", "always", "--ack-replicas", "1", "--ack-timeout", "3",
                                 "--cluster", "etcd=\(etcd.endpoint),collection=c,shard=\(shard),shards=2,name=s\(shard)-\(copy),lease=2"]
                let (process, port) = try CrashRecoveryTests.startServer(arguments)
                pair.append(Server(arguments: arguments, process: process, port: port))
            }
            servers.append(pair)
        }
        defer { for pair in servers { for s in pair where s.process.isRunning { kill(s.process.processIdentifier, SIGKILL) } } }
        let cluster = try ClusterClient(etcd: etcd.endpoint, collection: "c", deadline: 1)
        var until = Date().addingTimeInterval(15)
        while Date() < until, (try? cluster.refresh())?.primaries.contains(nil) ?? true { usleep(50_000) }
        XCTAssertFalse(try cluster.refresh().primaries.contains(nil), "each shard elects a primary")

        // A writer upserts new ids one at a time (each retried until acknowledged) and records
        // each acknowledgement's time; a searcher scatters searches and counts partial answers.
        let acked = Mutex<[(id: UInt64, at: Date)]>([])
        let searches = Mutex((answered: 0, partial: 0, failed: 0))
        let stop = Atomic<Bool>(false)
        let writer = Thread {
            var id: UInt64 = 10_000
            while !stop.load(ordering: .relaxed) {
                var v = base.rowArray(Int(id % 400))
                v[Int(id % 8)] += 0.25
                if (try? cluster.upsert([Request.Point(id: id, vector: v, payload: Array("{\"w\":\(id)}".utf8))])) == 1 {
                    acked.withLock { $0.append((id, Date())) }
                    id += 1
                } else {
                    usleep(10_000)
                }
            }
        }
        let searcher = Thread {
            var q = 0
            while !stop.load(ordering: .relaxed) {
                do {
                    let r = try cluster.search(base.rowArray(q % 400), options: QueryOptions(k: 10))
                    searches.withLock { if r.missingShards.isEmpty { $0.answered += 1 } else { $0.partial += 1 } }
                } catch {
                    searches.withLock { $0.failed += 1 }
                }
                q += 1
                usleep(2_000)
            }
        }
        writer.start()
        searcher.start()
        Thread.sleep(forTimeInterval: 1.5)

        // SIGKILL shard 0's primary in the middle of the writes. Once the replica has taken over
        // (the killed server's lease ran out), restart the killed one on its files, as a
        // supervisor would: its log may hold writes it never had acknowledged, which the new
        // primary's history does not, so it must be brought back in line (a snapshot).
        let primaryAddress = try XCTUnwrap(try cluster.refresh().primaries[0])
        let victim = try XCTUnwrap(servers[0].firstIndex { "127.0.0.1:\($0.port)" == primaryAddress })
        let killedAt = Date()
        kill(servers[0][victim].process.processIdentifier, SIGKILL)
        servers[0][victim].process.waitUntilExit()
        until = Date().addingTimeInterval(15)
        while Date() < until, (try? cluster.refresh())?.primaries[0].map({ $0 == primaryAddress }) ?? true { usleep(20_000) }
        let tookOver = Date()
        XCTAssertNotEqual(try cluster.refresh().primaries[0], primaryAddress, "the replica took over")
        let (restarted, port) = try CrashRecoveryTests.startServer(servers[0][victim].arguments)
        servers[0][victim].process = restarted
        servers[0][victim].port = port
        let restartedAt = Date()
        Thread.sleep(forTimeInterval: 5)
        stop.store(true, ordering: .relaxed)
        while writer.isExecuting || searcher.isExecuting { usleep(10_000) }

        let writes = acked.withLock { $0 }
        let ids = writes.map(\.id)
        XCTAssertGreaterThan(writes.filter { $0.at > restartedAt.addingTimeInterval(3) }.count, 0, "writes resumed after the restart")
        // The window: the longest gap between acknowledgements of shard 0's ids around the kill.
        let shard0 = writes.filter { ClusterLayout.shard(of: $0.id, shards: 2) == 0 }.map(\.at)
        let window = zip(shard0, shard0.dropFirst()).filter { $0.1 > killedAt }.map { $0.1.timeIntervalSince($0.0) }.max() ?? .infinity
        let s = searches.withLock { $0 }
        print("cluster crash: \(writes.count) writes acknowledged; shard 0 took none for \(String(format: "%.2f", window)) s (killed at +0, replica primary at +\(String(format: "%.2f", tookOver.timeIntervalSince(killedAt))) s, killed server restarted at +\(String(format: "%.2f", restartedAt.timeIntervalSince(killedAt))) s); searches: \(s.answered) whole, \(s.partial) partial, \(s.failed) failed")
        XCTAssertLessThan(window, 10)
        XCTAssertEqual(s.partial + s.failed, 0, "searches kept answering from every shard")

        // Every acknowledged write is there, on both servers of its shard once they agree.
        let found = try cluster.get(ids)
        XCTAssertEqual(found.notFound, [], "acknowledged writes lost")
        XCTAssertEqual(found.missingShards, [])
        for shard in 0..<2 {
            let mine = ids.filter { ClusterLayout.shard(of: $0, shards: 2) == shard }
            for server in servers[shard] {
                let client = try ShortlistClient(port: server.port)
                until = Date().addingTimeInterval(10)
                var missing = mine
                while !missing.isEmpty && Date() < until {
                    missing = try client.get(collection: "c", ids: mine).notFound
                    if !missing.isEmpty { usleep(50_000) }
                }
                XCTAssertEqual(missing, [], "server 127.0.0.1:\(server.port) of shard \(shard) lacks acknowledged writes")
            }
        }
    }
}
