import Foundation
import ShortlistCore
@testable import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class HNSWIndexTests: XCTestCase {
    private let configuration = HNSWConfiguration(m: 12, efConstruction: 80, seed: 3)

    /// Mean recall@k of `index` against exact search over `base`, for `queries`.
    private func recall(_ index: HNSWIndex, base: VectorMatrix, metric: Metric, queries: VectorMatrix, k: Int = 10, ef: Int = 64) throws -> Double {
        let exact = try ExactSearch.groundTruth(base: base, queries: queries, metric: metric, k: k, threads: 2)
        let found = try index.search(queries, k: k, parameters: SearchParameters(ef: ef), threads: 2)
        var hits = 0
        for q in 0..<queries.count {
            hits += Set(found[q].map(\.id)).intersection(exact[q].map(\.id)).count
        }
        return Double(hits) / Double(queries.count * k)
    }

    func testRecallAgainstExactSearchForEveryMetricAndStorage() throws {
        let base = Fixtures.clustered(count: 3000, dimension: 24, clusters: 20, seed: 21)
        let queries = Fixtures.clustered(count: 150, dimension: 24, clusters: 20, seed: 22)
        for metric in Metric.allCases {
            for storage in VectorStorage.allCases {
            var configuration = self.configuration
            configuration.storage = storage
            let index = try HNSWIndex(metric: metric, vectors: base, configuration: configuration, threads: 2)
            XCTAssertEqual(index.count, 3000)
            let r = try recall(index, base: base, metric: metric, queries: queries)
            XCTAssertGreaterThanOrEqual(r, 0.95, "\(metric) \(storage) recall@10 \(r)")
            // Distances are the metric's own (checked on one query against the reference);
            // half precision keeps about 3 significant digits.
            let q = queries.rowArray(0)
            let tolerance = storage == .float32 ? 1e-3 : 3e-3
            for hit in try index.search(q, k: 5, parameters: SearchParameters(ef: 64)) {
                let ref = Fixtures.referenceDistance(metric, q, base.rowArray(Int(hit.id)))
                XCTAssertEqual(Double(hit.distance), ref, accuracy: tolerance * max(1, abs(ref)), "\(metric) \(storage)")
            }
            }
        }
    }

    /// Half precision scales rows by a power of two: values of any magnitude survive, integers
    /// (pixels) stay exact, and adding a much larger vector later rescales instead of overflowing.
    func testHalfPrecisionHandlesLargeAndSmallMagnitudes() throws {
        for storage in [VectorStorage.float16, .sq8] {
        var half = configuration
        half.storage = storage
        for magnitude: Float in [1e-6, 1, 255, 1e6] {
            let base = Fixtures.clustered(count: 500, dimension: 8, seed: 101)
            let scaled = try VectorMatrix(dimension: 8, values: base.flatArray().map { $0 * magnitude })
            for metric in [Metric.l2, .ip] {
                let index = try HNSWIndex(metric: metric, vectors: scaled, configuration: half)
                let q = scaled.rowArray(3)
                let hits = try index.search(q, k: 3, parameters: SearchParameters(ef: 50))
                let exact = Fixtures.referenceTopK(metric, base: scaled, query: q, k: 1)
                XCTAssertEqual(hits.first.map { Int($0.id) }, exact.first, "\(metric) × \(magnitude)")
                // Rounding to 11 significant bits moves a distance by about 2⁻¹⁰ of ‖q‖² + ‖x‖².
                let x = scaled.rowArray(Int(hits[0].id))
                let ref = Fixtures.referenceDistance(metric, q, x)
                let scale = Double(q.reduce(0) { $0 + $1 * $1 } + x.reduce(0) { $0 + $1 * $1 })
                XCTAssertEqual(Double(hits[0].distance), ref, accuracy: 2e-3 * scale, "\(metric) × \(magnitude)")
                try index.add(q.map { $0 * 1000 }, id: 9999)
                XCTAssertEqual(try index.search(q.map { $0 * 1000 }, k: 1).first?.id, 9999, "\(metric) × \(magnitude) after a 1000× larger add")
            }
        }
        let pixels = try VectorMatrix(dimension: 4, values: [0, 17, 255, 128, 3, 4, 5, 6])
        let index = try HNSWIndex(metric: .l2, vectors: pixels, configuration: half)
        let dir = TemporaryDirectory()
        try index.save(to: dir.file("p.idx"))
        let loaded = try XCTUnwrap(try IndexLoader.load(path: dir.file("p.idx")) as? HNSWIndex)
        XCTAssertEqual(try loaded.search([0, 17, 255, 128], k: 1).first?.distance, 0)
        XCTAssertEqual(try loaded.search([3, 4, 5, 7], k: 1).first?.distance, 1)
        XCTAssertEqual(loaded.configuration.storage, storage)
        XCTAssertEqual(loaded.spec.description, storage == .sq8 ? "HNSW12,SQ8" : "HNSW12,SQfp16")
        }
    }

    /// The 8-bit code ranges follow the data: rows added far outside the ranges fitted at build
    /// time (a drifting catalogue) are refitted once they are a few percent of the rows, so the
    /// walk still tells them apart instead of clamping them all onto the ranges' edges.
    func testEightBitCodesFollowRowsAddedOutsideTheirRanges() throws {
        var sq8 = configuration
        sq8.storage = .sq8
        let first = Fixtures.clustered(count: 1400, dimension: 16, clusters: 8, seed: 111)
        let later = Fixtures.clustered(count: 600, dimension: 16, clusters: 8, seed: 112, centreSeed: 9)
        let shifted = try VectorMatrix(dimension: 16, values: later.flatArray().map { $0 * 3 + 40 })
        let queries = try VectorMatrix(dimension: 16, values: Fixtures.clustered(count: 80, dimension: 16, clusters: 8, seed: 113, centreSeed: 9)
            .flatArray().map { $0 * 3 + 40 })
        let index = try HNSWIndex(metric: .l2, vectors: first, configuration: sq8)
        for r in 0..<600 { try index.add(shifted.rowArray(r), id: UInt64(1000 + 1400 + r)) }
        let all = try VectorMatrix(dimension: 16, values: first.flatArray() + shifted.flatArray())
        let exact = try ExactSearch.groundTruth(base: all, queries: queries, metric: .l2, k: 10, threads: 2)
        var hits = 0
        for q in 0..<queries.count {
            let found = try index.search(queries.rowArray(q), k: 10, parameters: SearchParameters(ef: 32)).map { $0.id >= 1000 + 1400 ? Int($0.id) - 1000 : Int($0.id) }
            hits += Set(found).intersection(exact[q].map { Int($0.id) }).count
        }
        let recall = Double(hits) / Double(queries.count * 10)
        XCTAssertGreaterThanOrEqual(recall, 0.9, "recall@10 \(recall) over rows added outside the fitted ranges")
    }

    /// SQ8 files carry their code ranges, codes and norms: a missing, short or non-finite one is
    /// refused; so is a map of input rows that is not part of a permutation.
    func testEightBitCodeRangesAreCheckedOnLoading() throws {
        let dir = TemporaryDirectory()
        var sq8 = configuration
        sq8.storage = .sq8
        let index = try HNSWIndex(metric: .l2, vectors: Fixtures.clustered(count: 200, dimension: 6, seed: 121), configuration: sq8)
        try index.save(to: dir.file("good.idx"))
        let contents = try IndexFile.read(path: dir.file("good.idx"))
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init)
        let cases: [(String, String, ([UInt8]) -> [UInt8]?, String)] = [
            ("missing", "SQ8R", { _ in nil }, "SQ8R"),
            ("short", "SQ8R", { Array($0.dropLast(4)) }, "SQ8R holds"),
            ("nan", "SQ8R", { var b = $0; b.replaceSubrange(0..<4, with: nan); return b }, "non-finite"),
            ("no codes", "SQ8C", { _ in nil }, "SQ8C"),
            ("short codes", "SQ8C", { Array($0.dropLast(1)) }, "SQ8C / SQ8N hold"),
            ("nan norm", "SQ8N", { var b = $0; b.replaceSubrange(4..<8, with: nan); return b }, "SQ8N row 1"),
            ("input rows repeated", "INPR", { var b = $0; b.replaceSubrange(4..<8, with: b[0..<4]); return b }, "INPR sends input row 1"),
            ("input rows out of range", "INPR", { var b = $0; b.replaceSubrange(0..<4, with: [200, 0, 0, 0]); return b }, "INPR sends input row 0 to row 200"),
            ("input rows too many", "INPR", { $0 + [0, 0, 0, 0] }, "INPR holds 804 bytes"),
        ]
        for (name, tag, change, expected) in cases {
            var sections: [IndexFile.Section] = []
            for entry in contents.sectionList {
                let bytes = Array(contents.sections[entry.tag]!)
                if entry.tag == tag {
                    guard let changed = change(bytes) else { continue }
                    sections.append(IndexFile.Section(tag: entry.tag, payload: .bytes(changed)))
                } else {
                    sections.append(IndexFile.Section(tag: entry.tag, payload: .bytes(bytes)))
                }
            }
            try IndexFile.write(path: dir.file("\(name).idx"), header: contents.header, sections: sections)
            XCTAssertThrowsError(try IndexLoader.load(path: dir.file("\(name).idx")), name) { error in
                XCTAssert("\(error)".contains(expected), "\(name): \(error)")
            }
        }
    }

    /// Two-tower outputs have widely varying norms; raw inner product on a graph loses recall there.
    /// The L2 reduction keeps it.
    func testInnerProductKeepsRecallWhenNormsVaryWidely() throws {
        let base = Fixtures.clustered(count: 3000, dimension: 16, clusters: 15, normSpread: 20, seed: 31)
        let queries = Fixtures.clustered(count: 150, dimension: 16, clusters: 15, normSpread: 20, seed: 32)
        // One thread: the graph, and so the recall (0.987), is the same on every run. Two-thread
        // builds interleave insertions differently each time: twelve of them gave 0.94–0.993,
        // median 0.99, and the 0.94 failed a CI run. A serial warm-up of the first 1,024 rows did
        // not narrow that range.
        let index = try HNSWIndex(metric: .ip, vectors: base, configuration: configuration, threads: 1)
        let r = try recall(index, base: base, metric: .ip, queries: queries)
        XCTAssertGreaterThanOrEqual(r, 0.95, "ip recall@10 \(r)")
        // The largest inner products belong to long vectors: the answer is not just "nearest direction".
        let exact = try ExactSearch.groundTruth(base: base, queries: queries, metric: .ip, k: 1, threads: 1)
        let cosine = try ExactSearch.groundTruth(base: base, queries: queries, metric: .cosine, k: 1, threads: 1)
        XCTAssertLessThan(zip(exact.ids, cosine.ids).filter { $0 == $1 }.count, 100, "data does not exercise varied norms")
    }

    func testOneThreadWithAFixedSeedIsReproducible() throws {
        let base = Fixtures.clustered(count: 800, dimension: 8, seed: 41)
        let dir = TemporaryDirectory()
        for name in ["a", "b"] {
            try HNSWIndex(metric: .l2, vectors: base, configuration: configuration, threads: 1).save(to: dir.file(name))
        }
        XCTAssertEqual(dir.read("a"), dir.read("b"))
        var other = configuration
        other.seed = 4
        try HNSWIndex(metric: .l2, vectors: base, configuration: other, threads: 1).save(to: dir.file("c"))
        XCTAssertNotEqual(dir.read("a"), dir.read("c"))
    }

    /// Regression: a parallel build once let an insertion enter a newcomer through its still
    /// empty layer-0 list, leaving ~0.5% of rows barely linked (self-queries missed them).
    func testParallelBuildsLinkEveryRow() throws {
        let base = Fixtures.clustered(count: 2_000, dimension: 16, seed: 21)
        for threads in [2, 4] {
            let index = try HNSWIndex(metric: .cosine, vectors: base, configuration: HNSWConfiguration(m: 12, efConstruction: 100), threads: threads)
            var missed: [Int] = []
            for r in 0..<base.count where try !index.search(base.rowArray(r), k: 3, parameters: SearchParameters(ef: 128)).map(\.id).contains(UInt64(r)) {
                missed.append(r)
            }
            XCTAssertEqual(missed, [], "\(threads) threads")
        }
    }

    func testDeleteAddAndCompact() throws {
        let base = Fixtures.clustered(count: 2000, dimension: 12, seed: 51)
        let ids = (0..<2000).map { UInt64($0) + 1_000_000 }
        let index = try HNSWIndex(metric: .l2, vectors: base, ids: ids, configuration: configuration, threads: 2)
        let query = base.rowArray(7)
        XCTAssertEqual(try index.search(query, k: 1).first?.id, 1_000_007)
        // Delete every other row, including the query's own.
        for i in stride(from: 1, to: 2000, by: 2) { try index.delete(id: ids[i]) }
        try index.delete(id: 1_000_007 - 1)
        XCTAssertThrowsError(try index.delete(id: 1_000_006)) { XCTAssertEqual($0 as? IndexError, .unknownId(1_000_006)) }
        XCTAssertEqual(index.count, 999)
        let live = Set(ids.enumerated().filter { $0.offset % 2 == 0 && $0.offset != 6 }.map(\.element))
        for q in 0..<50 {
            let hits = try index.search(base.rowArray(q * 37), k: 10, parameters: SearchParameters(ef: 16))
            XCTAssertEqual(hits.count, 10, "fewer than k live results")
            XCTAssertTrue(hits.allSatisfy { live.contains($0.id) }, "a deleted id came back")
        }
        // Delete almost everything: the remaining few are still all found.
        for id in live.sorted().dropFirst(5) { try index.delete(id: id) }
        XCTAssertEqual(Set(try index.search(query, k: 10).map(\.id)), Set(live.sorted().prefix(5)))
        // Add after build: a new vector is found, its id must be new.
        try index.add(query.map { $0 + 0.001 }, id: 42)
        XCTAssertEqual(try index.search(query, k: 1).first?.id, 42)
        XCTAssertThrowsError(try index.add(query, id: 42)) { XCTAssertEqual($0 as? IndexError, .duplicateId(42)) }
        XCTAssertThrowsError(try index.add([1, 2], id: 43))
        XCTAssertEqual(index.rows, 2000, "the new vector took a deleted row")
        // Compaction keeps exactly the live vectors.
        let compact = try index.compacted(threads: 2)
        XCTAssertEqual(compact.rows, 6)
        XCTAssertEqual(compact.count, 6)
        XCTAssertEqual(compact.deletedCount, 0)
        XCTAssertEqual(Set(try compact.search(query, k: 10).map(\.id)), Set(live.sorted().prefix(5)).union([42]))
    }

    func testAddingManyVectorsAfterBuildKeepsRecall() throws {
        let base = Fixtures.clustered(count: 2000, dimension: 16, clusters: 12, seed: 61)
        let queries = Fixtures.clustered(count: 100, dimension: 16, clusters: 12, seed: 62)
        let first = try VectorMatrix(dimension: 16, values: Array(base.flatArray().prefix(500 * 16)))
        for metric in [Metric.ip, .cosine] {
            let index = try HNSWIndex(metric: metric, vectors: first, configuration: configuration, threads: 1)
            for r in 500..<2000 { try index.add(base.rowArray(r) .map { $0 * (metric == .ip ? 1.5 : 1) }, id: UInt64(r)) }
            let scaled = try VectorMatrix(dimension: 16, values: (0..<2000).flatMap { r in base.rowArray(r).map { $0 * (metric == .ip && r >= 500 ? 1.5 : 1) } })
            let r = try recall(index, base: scaled, metric: metric, queries: queries)
            XCTAssertGreaterThanOrEqual(r, 0.95, "\(metric) recall after adds \(r)")
        }
    }

    func testConcurrentSearchesWithDifferentEfMatchSequentialOnes() throws {
        let base = Fixtures.clustered(count: 2000, dimension: 16, seed: 91)
        let queries = Fixtures.clustered(count: 60, dimension: 16, seed: 92)
        let index = try HNSWIndex(metric: .cosine, vectors: base, configuration: configuration, threads: 2)
        let efs = [10, 25, 80]
        let expected = try (0..<queries.count).map { q in try index.search(queries.rowArray(q), k: 5, parameters: SearchParameters(ef: efs[q % 3])).map(\.id) }
        let out = UnsafeMutableBufferPointer<[UInt64]>.allocate(capacity: queries.count)
        out.initialize(repeating: [])
        defer { out.deallocate() }
        nonisolated(unsafe) let results = out
        DispatchQueue.concurrentPerform(iterations: queries.count * 4) { i in
            let q = i % queries.count
            let hits = (try? index.search(queries.rowArray(q), k: 5, parameters: SearchParameters(ef: efs[q % 3])).map(\.id)) ?? []
            if i < queries.count { results[q] = hits }
        }
        XCTAssertEqual(Array(out), expected)
    }

    func testBadParametersAndQueriesAreRefused() throws {
        let index = try HNSWIndex(metric: .l2, vectors: Fixtures.clustered(count: 100, dimension: 4, seed: 1), configuration: configuration)
        XCTAssertThrowsError(try index.search([1, 2, 3, 4], k: 5, parameters: SearchParameters(ef: 0))) {
            XCTAssertEqual($0 as? IndexError, .invalidParameter(name: "ef", value: 0, allowed: 1...SearchLimits.maximumEf))
        }
        XCTAssertThrowsError(try index.search([1, 2, 3, 4], k: 5, parameters: SearchParameters(ef: 1 << 30)))
        XCTAssertThrowsError(try index.search([1, 2, 3], k: 5))
        XCTAssertThrowsError(try index.search([1, 2, .nan, 4], k: 5))
        XCTAssertThrowsError(try HNSWIndex(metric: .l2, vectors: Fixtures.clustered(count: 10, dimension: 4), configuration: HNSWConfiguration(m: 1)))
        XCTAssertThrowsError(try HNSWIndex(metric: .l2, vectors: Fixtures.clustered(count: 10, dimension: 4), configuration: HNSWConfiguration(efConstruction: 0)))
        // k beyond the index returns everything live; an empty index returns nothing.
        XCTAssertEqual(try index.search([0, 0, 0, 0], k: 500).count, 100)
        let empty = try HNSWIndex(metric: .l2, vectors: try VectorMatrix(dimension: 4), configuration: configuration)
        XCTAssertEqual(try empty.search([0, 0, 0, 0], k: 3), [])
        try empty.add([1, 1, 1, 1], id: 9)
        XCTAssertEqual(try empty.search([0, 0, 0, 0], k: 3).map(\.id), [9])
    }
}
