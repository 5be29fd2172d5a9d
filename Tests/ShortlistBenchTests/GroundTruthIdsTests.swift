import ShortlistBench
import ShortlistCore
import ShortlistData
import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class GroundTruthIdsTests: XCTestCase {
    func testRowsBecomeTheIdsTheIndexGaveThem() throws {
        let base = Fixtures.clustered(count: 300, dimension: 8, seed: 3)
        let queries = Fixtures.clustered(count: 20, dimension: 8, seed: 4)
        let rows = try ExactSearch.groundTruth(base: base, queries: queries, metric: .l2, k: 5, threads: 1)
        let truth = IntMatrix(count: 20, width: 5, values: rows.ids.map { Int32($0) })
        // Built with ids: recall against row-numbered truth is 1 after translation, 0 before.
        let ids = (0..<300).map { UInt64(1_000_000 + 3 * $0) }
        let index = try FlatIndex(metric: .l2, vectors: base, ids: ids)
        let found = try index.search(queries, k: 5, parameters: .default, threads: 1)
        let results = IntMatrix(count: 20, width: 5, values: found.ids.map { Int32($0) })
        XCTAssertEqual(Recall.at(5, results: results, groundTruth: truth), 0)
        let (mapped, translated) = try GroundTruthIds.translate(truth, for: index)
        XCTAssertTrue(translated)
        XCTAssertEqual(Recall.at(5, results: results, groundTruth: mapped), 1)
        // Row-numbered indexes are left alone; padding stays −1; rows past the index are refused.
        let plain = try FlatIndex(metric: .l2, vectors: base)
        XCTAssertFalse(try GroundTruthIds.translate(truth, for: plain).translated)
        let padded = IntMatrix(count: 1, width: 2, values: [4, -1])
        XCTAssertEqual(try GroundTruthIds.translate(padded, for: index).truth.values, [1_000_012, -1])
        XCTAssertThrowsError(try GroundTruthIds.translate(IntMatrix(count: 1, width: 1, values: [300]), for: index)) {
            XCTAssertEqual($0 as? GroundTruthIds.Failure, .rowOutOfRange(row: 300, rows: 300))
        }
        // An HNSW build renumbers its rows for locality: translation goes through the row each
        // input row went to, so row-numbered truth still means the base file's rows.
        for ids in [nil, ids] {
            let graph = try HNSWIndex(metric: .l2, vectors: base, ids: ids, configuration: HNSWConfiguration(m: 8, efConstruction: 100))
            XCTAssertNotEqual(graph.rowIds, ids ?? (0..<300).map { UInt64($0) }, "the build moved rows")
            let hits = try graph.search(queries, k: 5, parameters: SearchParameters(ef: 300), threads: 1)
            let graphResults = IntMatrix(count: 20, width: 5, values: hits.ids.map { Int32($0) })
            let (graphTruth, graphTranslated) = try GroundTruthIds.translate(truth, for: graph)
            XCTAssertEqual(graphTranslated, ids != nil)
            XCTAssertEqual(Recall.at(5, results: graphResults, groundTruth: graphTruth), 1, "ids: \(ids == nil ? "rows" : "given")")
        }
        // An index changed since it was built is flagged.
        XCTAssertNil(GroundTruthIds.warning(for: index))
        let hnsw = try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 8))
        try hnsw.delete(id: 3)
        XCTAssertTrue(GroundTruthIds.warning(for: hnsw)?.contains("1 deleted rows") == true)
    }
}
