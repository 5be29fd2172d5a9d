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

    /// On correlated, unevenly spread data, the learned rotation loses less than plain PQ, and an
    /// OPQ index round-trips through its file.
    func testOPQLosesNoMoreThanPQOnAnisotropicData() throws {
        // Variances that fall off steeply, then a random rotation mixes the components.
        let d = 16, n = 4000
        var rng = SeededGenerator(seed: 77)
        var values = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { values[i * d + j] = rng.nextGaussian() * Float(pow(0.75, Double(j))) * 4 } }
        let raw = try VectorMatrix(dimension: d, values: values)
        let gaussian = (0..<d * d).map { _ in rng.nextGaussian() }
        let q = try SingularValueDecomposition(matrix: gaussian, rows: d, columns: d)
        let data = OPQRotation(dimension: d, matrix: q.u).apply(raw)
        let m = 4
        let plain = try ProductQuantizer.train(data, m: m, iterations: 10, seed: 1, threads: 2).reconstructionError(data, threads: 2)
        let rotation = try OPQRotation.train(data, m: m, iterations: 6, seed: 1, threads: 2)
        let rotated = rotation.apply(data)
        let opq = try ProductQuantizer.train(rotated, m: m, iterations: 10, seed: 1, threads: 2).reconstructionError(rotated, threads: 2)
        XCTAssertLessThanOrEqual(opq, plain, "OPQ \(opq) vs PQ \(plain)")
        // The rotation is orthogonal: lengths survive.
        for r in 0..<5 { XCTAssertEqual(rotated.rowArray(r).reduce(0) { $0 + $1 * $1 }, data.rowArray(r).reduce(0) { $0 + $1 * $1 }, accuracy: 1e-2) }
        let index = try IVFPQIndex(metric: .l2, vectors: data, configuration: IVFPQConfiguration(nlist: 8, m: m, refine: true, opq: true, iterations: 5), threads: 2)
        XCTAssertEqual(index.spec.description, "OPQ4,IVF8,PQ4,Refine")
        XCTAssertEqual(try index.search(data.rowArray(3), k: 1, parameters: SearchParameters(nprobe: 8, rerank: 20)).first?.id, 3)
        let dir = TemporaryDirectory()
        try index.save(to: dir.file("opq.idx"))
        let loaded = try XCTUnwrap(try IndexLoader.load(path: dir.file("opq.idx")) as? IVFPQIndex)
        let queries = Fixtures.clustered(count: 20, dimension: d, seed: 78)
        XCTAssertEqual(try index.search(queries, k: 5, parameters: SearchParameters(nprobe: 3), threads: 1).ids,
                       try loaded.search(queries, k: 5, parameters: SearchParameters(nprobe: 3), threads: 1).ids)
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
        XCTAssertEqual(try IndexSpec(parsing: "OPQ16,IVF1024,PQ16,Refine"), .ivfpq(nlist: 1024, m: 16, refine: true, opq: true))
        XCTAssertEqual(IndexSpec.ivfpq(nlist: 64, m: 8, refine: false, opq: true).description, "OPQ8,IVF64,PQ8")
        for bad in ["IVF0,PQ8", "IVF64", "IVF64,PQ", "IVF64,PQ8,Flat", "OPQ8,IVF64,PQ16", "OPQ,IVF64,PQ16", "OPQ8", "IVF64,PQ32x4fs"] {
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
