import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest
@testable import ShortlistServer
import ShortlistProtocol

/// Online compaction: a collection that passes the deleted-row thresholds drops its deleted rows
/// by itself, without losing a write made while it does.
final class CompactionTests: XCTestCase {
    func testIVFCompactsAtOnceAndHNSWInTheBackgroundKeepingConcurrentWrites() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 1_200, dimension: 16, seed: 61)
        try IVFPQIndex(metric: .l2, vectors: base, configuration: IVFPQConfiguration(nlist: 8, m: 8, refine: true, iterations: 4), threads: 2).save(to: dir.file("ivf.idx"))
        try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 8, efConstruction: 64), threads: 1).save(to: dir.file("hnsw.idx"))
        for name in ["ivf", "hnsw"] {
            let c = try ServedCollection(.init(name: name, indexPath: dir.file(name + ".idx")), durability: .always)
            c.compactionMinimumDeadRows = 100
            let release = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0)
            c.beforeRebuild = { started.signal(); release.wait() }
            // 400 of 1,200 deleted: a third of the rows, past both thresholds.
            _ = try c.delete((0..<400).map { UInt64($0) })
            if name == "ivf" {
                XCTAssertEqual(c.rows, 800, "IVF compacted at once")
                XCTAssertEqual(c.compactions.completed, 1)
                release.signal()
            } else {
                XCTAssertEqual(started.wait(timeout: .now() + 10), .success)
                XCTAssertTrue(c.compactions.running)
                // Writes while the graph is rebuilt: applied now, and to the rebuilt graph.
                try c.upsert([Request.Point(id: 5_000, vector: base.rowArray(3), payload: nil)])
                _ = try c.delete([500, 501])
                try c.upsert([Request.Point(id: 900, vector: base.rowArray(7), payload: nil)])
                XCTAssertEqual(c.count, 799)
                release.signal()
                let deadline = Date().addingTimeInterval(30)
                while c.compactions.running && Date() < deadline { usleep(10_000) }
                XCTAssertEqual(c.compactions.completed, 1)
                // The 400 are gone; the two deleted during the rebuild are the only dead rows.
                XCTAssertEqual(c.rows, c.count + 2)
            }
            XCTAssertEqual(c.deadRows, name == "ivf" ? 0 : 2)
            XCTAssertEqual(c.count, name == "ivf" ? 800 : 799)
            XCTAssertNil(c.get([0])[0])
            if name == "hnsw" {
                XCTAssertNil(c.get([500])[0])
                XCTAssertEqual(c.get([5_000])[0]?.vector, base.rowArray(3))
                XCTAssertEqual(c.get([900])[0]?.vector, base.rowArray(7))
                XCTAssertEqual(try c.search(base.rowArray(3), k: 1, parameters: .default, filter: .init(), withPayload: false).first?.id, 3 < 400 ? 5_000 : 3)
            }
            // Exact answers for a few queries: the same as a flat index over the live vectors.
            let live = (400..<1_200).map { UInt64($0) }.filter { c.get([$0])[0] != nil }
            for q in [450, 700, 1_100] {
                let truth = live.map { ($0, VectorMath.distance(.l2, base.rowArray(q), c.get([$0])[0]!.vector, dimension: 16)) }.min { $0.1 < $1.1 }!.0
                XCTAssertEqual(try c.search(base.rowArray(q), k: 1, parameters: SearchParameters(ef: 100, nprobe: 8), filter: .init(), withPayload: false).first?.id, truth, "\(name) query \(q)")
            }
            // Saved and reloaded: the compacted index with the log's writes.
            try c.save()
            let again = try ServedCollection(.init(name: name, indexPath: dir.file(name + ".idx")), durability: .always)
            XCTAssertEqual(again.count, c.count)
            XCTAssertEqual(again.rows, c.rows)
        }
    }
}
