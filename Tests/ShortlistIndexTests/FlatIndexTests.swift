import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class FlatIndexTests: XCTestCase {
    private func copy(_ m: VectorMatrix) -> VectorMatrix { try! VectorMatrix(dimension: m.dimension, values: m.flatArray()) }

    /// Single and batch search (1 and 2 threads) equal a naive double-precision scan, for every metric.
    func testEveryMetricMatchesTheNaiveReference() throws {
        // 3000 rows spans several base tiles (1024) and a partial one; 600 queries span two query tiles.
        let base = Fixtures.clustered(count: 3000, dimension: 19, clusters: 12, normSpread: 3, seed: 1)
        let queries = Fixtures.clustered(count: 600, dimension: 19, clusters: 12, normSpread: 3, seed: 2)
        for metric in Metric.allCases {
            let index = try FlatIndex(metric: metric, vectors: copy(base))
            let k = 10
            let batch1 = try index.search(queries, k: k, parameters: .default, threads: 1)
            let batch2 = try index.search(queries, k: k, parameters: .default, threads: 2)
            XCTAssertEqual(batch1.ids, batch2.ids, "\(metric): thread count changed results")
            var agree = 0
            for q in stride(from: 0, to: queries.count, by: 7) {
                let query = queries.rowArray(q)
                let expected = Fixtures.referenceTopK(metric, base: base, query: query, k: k).map(UInt64.init)
                let single = try index.search(query, k: k)
                XCTAssertEqual(single.map(\.id), expected, "\(metric) single q=\(q)")
                if batch1[q].map(\.id) == expected { agree += 1 }
                // Reported distances are the metric's true distances.
                for hit in single {
                    let ref = Fixtures.referenceDistance(metric, query, base.rowArray(Int(hit.id)))
                    XCTAssertEqual(Double(hit.distance), ref, accuracy: 1e-3 * max(1, abs(ref)), "\(metric)")
                }
                for (a, b) in zip(single, batch1[q]) { XCTAssertEqual(a.distance, b.distance, accuracy: 2e-3 * max(1, abs(a.distance))) }
            }
            // The BLAS path ranks by ‖x‖² − 2q·x in float; allow a rare near-tie swap, nothing more.
            XCTAssertGreaterThanOrEqual(agree, 85, "\(metric): batch results disagree with the reference")
        }
    }

    func testExternalIdsPaddingAndKLargerThanCount() throws {
        let base = try VectorMatrix(dimension: 2, values: [0, 0, 1, 0, 5, 5])
        let index = try FlatIndex(metric: .l2, vectors: base, ids: [100, 200, 300])
        XCTAssertEqual(try index.search([0.9, 0], k: 2).map(\.id), [200, 100])
        let results = try index.search(try VectorMatrix(dimension: 2, values: [5, 4, 0, 0]), k: 5, parameters: .default, threads: 1)
        XCTAssertEqual(results[0].map(\.id), [300, 200, 100])
        XCTAssertEqual(Array(results.ids[3..<5]), [SearchResults.noId, SearchResults.noId])
        XCTAssertEqual(results.distances[0], 1, accuracy: 1e-5)
        XCTAssertEqual(try index.search([0, 0], k: 10).count, 3)
    }

    func testBadQueriesAndBuildsAreRefused() throws {
        let index = try FlatIndex(metric: .cosine, vectors: try VectorMatrix(dimension: 3, values: [1, 0, 0, 0, 1, 0]))
        XCTAssertThrowsError(try index.search([1, 0], k: 1)) { XCTAssertEqual($0 as? VectorError, .dimensionMismatch(expected: 3, actual: 2)) }
        XCTAssertThrowsError(try index.search([1, .nan, 0], k: 1)) { XCTAssertEqual($0 as? VectorError, .nonFinite(row: 0, column: 1)) }
        XCTAssertThrowsError(try index.search([0, 0, 0], k: 1)) { XCTAssertEqual($0 as? VectorError, .zeroNorm(row: 0)) }
        XCTAssertThrowsError(try index.search([1, 0, 0], k: 0)) { XCTAssertEqual($0 as? VectorError, .invalidK(0, maximum: SearchLimits.maximumK)) }
        XCTAssertThrowsError(try index.search([1, 0, 0], k: 1 << 40))
        XCTAssertThrowsError(try index.search(try VectorMatrix(dimension: 3, values: [1, 1, .infinity]), k: 1, parameters: .default, threads: 1))
        XCTAssertThrowsError(try FlatIndex(metric: .cosine, vectors: try VectorMatrix(dimension: 2, values: [1, 1, 0, 0]))) {
            XCTAssertEqual($0 as? VectorError, .zeroNorm(row: 1))
        }
        XCTAssertThrowsError(try FlatIndex(metric: .l2, vectors: try VectorMatrix(dimension: 1, values: [1, 2]), ids: [4, 4])) {
            XCTAssertEqual($0 as? IndexError, .duplicateId(4))
        }
        XCTAssertThrowsError(try FlatIndex(metric: .l2, vectors: try VectorMatrix(dimension: 1, values: [1, 2]), ids: [4])) {
            XCTAssertEqual($0 as? IndexError, .idCountMismatch(expected: 2, actual: 1))
        }
    }

    func testConcurrentSearchesGiveSequentialAnswers() throws {
        let base = Fixtures.clustered(count: 2000, dimension: 16, seed: 3)
        let queries = Fixtures.clustered(count: 64, dimension: 16, seed: 4)
        let index = try FlatIndex(metric: .ip, vectors: base)
        let expected = try (0..<queries.count).map { try index.search(queries.rowArray($0), k: 5).map(\.id) }
        let got = UnsafeMutableBufferPointer<[UInt64]>.allocate(capacity: queries.count)
        got.initialize(repeating: [])
        defer { got.deallocate() }
        nonisolated(unsafe) let out = got
        DispatchQueue.concurrentPerform(iterations: queries.count) { q in
            out[q] = (try? index.search(queries.rowArray(q), k: 5).map(\.id)) ?? []
        }
        XCTAssertEqual(Array(got), expected)
    }

    func testExactGroundTruthMatchesTheReferenceIncludingTies() throws {
        // Duplicate rows create exact ties: the lower row must come first.
        var values = Fixtures.clustered(count: 500, dimension: 8, seed: 5).flatArray()
        values += Array(values[0..<8 * 20])
        let base = try VectorMatrix(dimension: 8, values: values)
        let queries = Fixtures.clustered(count: 40, dimension: 8, seed: 6)
        for metric in Metric.allCases {
            let gt = try ExactSearch.groundTruth(base: base, queries: queries, metric: metric, k: 25, threads: 2)
            for q in 0..<queries.count {
                let expected = Fixtures.referenceTopK(metric, base: base, query: queries.rowArray(q), k: 25).map(UInt64.init)
                XCTAssertEqual(gt[q].map(\.id), expected, "\(metric) q=\(q)")
            }
        }
    }
}
