import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

/// Update churn must not grow an index without bound: HNSW reuses deleted rows; IVF-PQ drops
/// them when compacted. Recall is checked against exact search over the live vectors after churn.
final class ChurnTests: XCTestCase {
    private let d = 16

    /// Recall@10 of `index` against exact search over `live` (id → vector).
    private func recall(_ index: any VectorIndex, live: [UInt64: [Float]], queries: VectorMatrix, parameters: SearchParameters) throws -> Double {
        let ids = Array(live.keys)
        let exact = try FlatIndex(metric: index.metric, vectors: try VectorMatrix(dimension: d, values: ids.flatMap { live[$0]! }), ids: ids)
        var hit = 0
        for q in 0..<queries.count {
            let truth = Set(try exact.search(queries.rowArray(q), k: 10).map(\.id))
            hit += try index.search(queries.rowArray(q), k: 10, parameters: parameters).filter { truth.contains($0.id) }.count
        }
        return Double(hit) / Double(queries.count * 10)
    }

    func testHNSWReusesDeletedRowsUnderUpsertChurnAndKeepsItsRecall() throws {
        for metric in [Metric.l2, .cosine, .ip] {
            let base = Fixtures.clustered(count: 2_000, dimension: d, seed: 41)
            let index = try HNSWIndex(metric: metric, vectors: base, configuration: HNSWConfiguration(m: 12, efConstruction: 100), threads: 1)
            var live: [UInt64: [Float]] = [:]
            for r in 0..<base.count { live[UInt64(r)] = base.rowArray(r) }
            var rng = SeededGenerator(seed: 7)
            let fresh = Fixtures.clustered(count: 6_000, dimension: d, seed: 42)
            // 20 rounds: 300 ids get new vectors (upsert = delete + add), and 10 ids are deleted.
            for round in 0..<20 {
                for i in 0..<300 {
                    let id = UInt64(rng.next() % 2_000)
                    let v = fresh.rowArray((round * 300 + i) % fresh.count)
                    try index.upsert(v, id: id)
                    live[id] = v
                }
                for _ in 0..<10 {
                    let id = UInt64(rng.next() % 2_000)
                    if index.contains(id: id) { try index.delete(id: id); live[id] = nil }
                }
            }
            XCTAssertEqual(index.count, live.count)
            XCTAssertLessThanOrEqual(index.rows, 2_001, "\(metric): the graph grew under churn (\(index.rows) rows for \(index.count) live)")
            let r = try recall(index, live: live, queries: Fixtures.clustered(count: 100, dimension: d, seed: 43), parameters: SearchParameters(ef: 64))
            XCTAssertGreaterThan(r, 0.9, "\(metric): recall@10 after churn \(r)")
            print("HNSW churn \(metric): \(index.rows) rows for \(index.count) live after 6,000 upserts and 200 deletes; recall@10 at ef 64: \(r)")
            // The file round-trips, and reuse goes on after loading (free rows from the tombstones).
            let dir = TemporaryDirectory()
            try index.save(to: dir.file("h.idx"))
            let loaded = try XCTUnwrap(IndexLoader.load(path: dir.file("h.idx")) as? HNSWIndex)
            let rowsBefore = loaded.rows
            let deletedBefore = loaded.deadRows
            let newcomer = Fixtures.clustered(count: 1, dimension: d, seed: 99).rowArray(0)
            try loaded.add(newcomer, id: 99_999)
            XCTAssertEqual(loaded.rows, rowsBefore)
            XCTAssertEqual(loaded.deadRows, deletedBefore - 1)
            XCTAssertEqual(try loaded.search(newcomer, k: 1, parameters: SearchParameters(ef: 64)).first?.id, 99_999)
        }
    }

    func testIVFCompactionDropsDeletedRowsAndKeepsEveryAnswer() throws {
        let base = Fixtures.clustered(count: 3_000, dimension: d, seed: 51)
        let queries = Fixtures.clustered(count: 30, dimension: d, seed: 52)
        for (metric, c) in [(Metric.l2, IVFPQConfiguration(nlist: 16, m: 8, refine: true, iterations: 5)),
                            (.l2, IVFPQConfiguration(nlist: 16, m: 8, bits: 4, iterations: 5)),
                            (.cosine, IVFPQConfiguration(nlist: 16, m: 8, opq: true, iterations: 5)),
                            (.ip, IVFPQConfiguration(nlist: 16, m: 4, bits: 4, refine: true, iterations: 5))] {
            let index = try IVFPQIndex(metric: metric, vectors: base, configuration: c, threads: 2)
            var rng = SeededGenerator(seed: 3)
            for _ in 0..<1_500 {
                let id = UInt64(rng.next() % 3_000)
                if index.contains(id: id) { try index.delete(id: id) }
            }
            for i in 0..<200 { try index.add(base.rowArray(i), id: UInt64(10_000 + i)) }
            let compacted = try index.compacted()
            XCTAssertEqual(compacted.count, index.count)
            XCTAssertEqual(compacted.rows, index.count, "\(c): no deleted rows are left")
            XCTAssertLessThan(compacted.memoryBytes, index.memoryBytes)
            let p = SearchParameters(nprobe: 16, rerank: c.refine ? 4 : nil)
            for q in 0..<queries.count {
                let before = try index.search(queries.rowArray(q), k: 10, parameters: p)
                let after = try compacted.search(queries.rowArray(q), k: 10, parameters: p)
                XCTAssertEqual(after.map(\.id), before.map(\.id), "\(c) query \(q)")
                for (a, b) in zip(after, before) { XCTAssertEqual(a.distance, b.distance, accuracy: 1e-4 * max(1, abs(b.distance))) }
            }
            for id: UInt64 in [10_000, 10_199] { XCTAssertEqual(compacted.storedVector(id: id)?.count, d) }
            // Adds after compaction continue from the new row count.
            try compacted.add(base.rowArray(5), id: 77_777)
            XCTAssertEqual(compacted.rows, index.count + 1)
        }
    }
}
