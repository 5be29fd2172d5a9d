import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

/// The filter-aware graph walk (`HNSWIndex.search(_:k:parameters:allowedIds:)`) against exact
/// search over the allowed items, at several shares of items allowed, with deletions.
final class FilteredHNSWTests: XCTestCase {
    func testRecallAgainstExactFilteredSearch() throws {
        let n = 6_000, d = 16
        let base = Fixtures.clustered(count: n, dimension: d, clusters: 20, seed: 31)
        let index = try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 16, efConstruction: 100))
        // A tenth of the items deleted: the walk must go through them as well.
        var g = SeededGenerator(seed: 5)
        var deleted = Set<UInt64>()
        while deleted.count < n / 10 { deleted.insert(g.next() % UInt64(n)) }
        for id in deleted { try index.delete(id: id) }
        let queries = Fixtures.clustered(count: 100, dimension: d, clusters: 20, seed: 32)
        for share in [0.5, 0.1, 0.02] {
            // The allowed items: a random share (uncorrelated with the clusters).
            var allowed = Set<UInt64>()
            for id in 0..<UInt64(n) where Double(g.next() % 10_000) / 10_000 < share { allowed.insert(id) }
            let live = allowed.subtracting(deleted)
            var hits = 0, total = 0
            for q in 0..<queries.count {
                let query = queries.rowArray(q)
                let got = try index.search(query, k: 10, parameters: SearchParameters(ef: 64), allowedIds: allowed)
                XCTAssertTrue(got.allSatisfy { live.contains($0.id) }, "share \(share): only allowed, live items")
                XCTAssertEqual(got.count, min(10, live.count))
                let exact = live.map { id in Neighbor(id: id, distance: VectorMath.distance(.l2, query, base.rowArray(Int(id)), dimension: d)) }
                    .sorted().prefix(10).map(\.id)
                hits += Set(got.map(\.id)).intersection(exact).count
                total += exact.count
            }
            let recall = Double(hits) / Double(total)
            print(String(format: "filtered HNSW, %.0f%% allowed: recall@10 %.4f", share * 100, recall))
            XCTAssertGreaterThanOrEqual(recall, 0.95, "share \(share)")
        }
        XCTAssertEqual(try index.search(queries.rowArray(0), k: 10, allowedIds: deleted), [], "nothing allowed is live")
        // The bitmap form gives the same answer; a bitmap of another index's size is refused.
        let allowed = Set((0..<UInt64(n)).filter { $0 % 3 == 0 })
        XCTAssertEqual(try index.search(queries.rowArray(1), k: 10, allowedRows: index.rowBitmap(of: allowed)),
                       try index.search(queries.rowArray(1), k: 10, allowedIds: allowed))
        XCTAssertThrowsError(try index.search(queries.rowArray(1), k: 10, allowedRows: RowBitmap(rows: 64)))
    }

    func testRowBitmap() {
        var b = RowBitmap(rows: 130)
        XCTAssertEqual(b.rowCapacity, 192)
        for r in [0, 63, 64, 129, 64] { b.insert(r) }
        XCTAssertEqual(b.count, 4, "inserting twice counts once")
        XCTAssertTrue(b.contains(63) && b.contains(64) && b.contains(129) && !b.contains(1) && !b.contains(500))
    }
}
