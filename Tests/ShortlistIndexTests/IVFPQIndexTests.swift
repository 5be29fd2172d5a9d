import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class IVFPQIndexTests: XCTestCase {
    private func recall(_ index: any VectorIndex, base: VectorMatrix, metric: Metric, queries: VectorMatrix, parameters: SearchParameters) throws -> Double {
        let exact = try ExactSearch.groundTruth(base: base, queries: queries, metric: metric, k: 10, threads: 2)
        let found = try index.search(queries, k: 10, parameters: parameters, threads: 2)
        var hits = 0
        for q in 0..<queries.count { hits += Set(found[q].map(\.id)).intersection(exact[q].map(\.id)).count }
        return Double(hits) / Double(queries.count * 10)
    }

    func testReconstructionErrorFallsAsMGrows() throws {
        let data = Fixtures.clustered(count: 3000, dimension: 16, clusters: 30, seed: 3)
        var errors: [Double] = []
        for m in [2, 4, 8, 16] {
            let pq = try ProductQuantizer.train(data, m: m, iterations: 8, seed: 1, threads: 2)
            errors.append(pq.reconstructionError(data, threads: 2))
        }
        for (a, b) in zip(errors, errors.dropFirst()) { XCTAssertLessThan(b, a, "\(errors)") }
        XCTAssertThrowsError(try ProductQuantizer.train(data, m: 5, seed: 1, threads: 1))
    }

    func testRecallRisesWithNprobeAndReachesTarget() throws {
        let base = Fixtures.clustered(count: 6000, dimension: 32, clusters: 40, seed: 11)
        let queries = Fixtures.clustered(count: 120, dimension: 32, clusters: 40, seed: 12)
        for metric in Metric.allCases {
            let index = try IVFPQIndex(metric: metric, vectors: base, configuration: IVFPQConfiguration(nlist: 32, m: 8, refine: true, iterations: 8, seed: 4), threads: 2)
            var previous = -1.0
            for nprobe in [1, 4, 16] {
                let r = try recall(index, base: base, metric: metric, queries: queries, parameters: SearchParameters(nprobe: nprobe, rerank: 1))
                XCTAssertGreaterThanOrEqual(r, previous - 0.005, "\(metric) nprobe \(nprobe)")
                previous = r
            }
            let refined = try recall(index, base: base, metric: metric, queries: queries, parameters: SearchParameters(nprobe: 32, rerank: 20))
            XCTAssertGreaterThanOrEqual(refined, 0.95, "\(metric) with re-ranking: \(refined)")
            XCTAssertGreaterThan(refined, previous, "\(metric): re-ranking did not help")
        }
    }

    func testPersistenceAddAndDelete() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 3000, dimension: 16, clusters: 20, seed: 21)
        let queries = Fixtures.clustered(count: 30, dimension: 16, clusters: 20, seed: 22)
        for refine in [false, true] {
            let index = try IVFPQIndex(metric: .l2, vectors: base, ids: (0..<3000).map { UInt64($0) + 500 },
                                       configuration: IVFPQConfiguration(nlist: 16, m: 4, refine: refine, iterations: 5, seed: 1), threads: 2)
            let q = base.rowArray(10)
            XCTAssertEqual(try index.search(q, k: 1, parameters: SearchParameters(nprobe: 4, rerank: 8)).first?.id, refine ? 510 : try index.search(q, k: 1, parameters: SearchParameters(nprobe: 4)).first?.id)
            try index.delete(id: 510)
            XCTAssertFalse(try index.search(q, k: 20, parameters: SearchParameters(nprobe: 16)).contains { $0.id == 510 })
            XCTAssertThrowsError(try index.delete(id: 510)) { XCTAssertEqual($0 as? IndexError, .unknownId(510)) }
            try index.add(q, id: 7)
            XCTAssertTrue(try index.search(q, k: 3, parameters: SearchParameters(nprobe: 4)).contains { $0.id == 7 })
            XCTAssertThrowsError(try index.add(q, id: 7)) { XCTAssertEqual($0 as? IndexError, .duplicateId(7)) }
            let path = dir.file("ivf-\(refine).idx")
            try index.save(to: path)
            let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? IVFPQIndex)
            XCTAssertEqual(loaded.spec, .ivfpq(nlist: 16, m: 4, refine: refine))
            XCTAssertEqual(loaded.count, 3000)
            let p = SearchParameters(nprobe: 5, rerank: 3)
            let a = try index.search(queries, k: 10, parameters: p, threads: 1), b = try loaded.search(queries, k: 10, parameters: p, threads: 1)
            XCTAssertEqual(a.ids, b.ids)
            XCTAssertEqual(a.distances, b.distances)
        }
    }

    func testSpecsAndBadInput() throws {
        XCTAssertEqual(try IndexSpec(parsing: "IVF1024,PQ16"), .ivfpq(nlist: 1024, m: 16, refine: false))
        XCTAssertEqual(try IndexSpec(parsing: "ivf64,pq8,refine").description, "IVF64,PQ8,Refine")
        for bad in ["IVF0,PQ8", "IVF64", "IVF64,PQ", "IVF64,PQ8,Flat", "OPQ16,IVF64,PQ16", "IVF64,PQ32x4fs"] {
            XCTAssertThrowsError(try IndexSpec(parsing: bad), bad)
        }
        let base = Fixtures.clustered(count: 600, dimension: 12, seed: 1)
        XCTAssertThrowsError(try IVFPQIndex(metric: .l2, vectors: base, configuration: IVFPQConfiguration(nlist: 8, m: 5)))
        XCTAssertThrowsError(try IVFPQIndex(metric: .l2, vectors: Fixtures.clustered(count: 100, dimension: 12, seed: 1), configuration: IVFPQConfiguration(nlist: 8, m: 4)))
        let index = try IVFPQIndex(metric: .l2, vectors: base, configuration: IVFPQConfiguration(nlist: 8, m: 4, iterations: 3))
        XCTAssertThrowsError(try index.search([Float](repeating: 0, count: 12), k: 3, parameters: SearchParameters(nprobe: 0)))
        XCTAssertThrowsError(try index.search([Float](repeating: 0, count: 12), k: 3, parameters: SearchParameters(rerank: 100_000)))
        XCTAssertThrowsError(try index.search([Float](repeating: 0, count: 11), k: 3))
        XCTAssertEqual(try index.search([Float](repeating: 0, count: 12), k: 3, parameters: SearchParameters(nprobe: 1000)).count, 3)
    }
}
