import CShortlistKernels
import Foundation
import ShortlistCore
@testable import ShortlistIndex
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

    /// A batch finds its lists with one sgemm per block of queries; it must agree with the
    /// one-query path (same lists, same hits up to the rounding of the expanded L2 distance).
    func testBatchSearchAgreesWithOneQueryAtATime() throws {
        let base = Fixtures.clustered(count: 4000, dimension: 32, clusters: 40, seed: 21)
        let queries = Fixtures.clustered(count: 150, dimension: 32, clusters: 40, seed: 22)   // 2 full blocks and a part
        for metric in Metric.allCases {
            for refine in [false, true] {
                let index = try IVFPQIndex(metric: metric, vectors: base, configuration: IVFPQConfiguration(nlist: 32, m: 8, refine: refine, iterations: 6, seed: 3), threads: 2)
                let parameters = SearchParameters(nprobe: 4, rerank: 4)
                let batch = try index.search(queries, k: 10, parameters: parameters, threads: 2)
                var same = 0, total = 0
                for q in 0..<queries.count {
                    let one = try index.search(Array(UnsafeBufferPointer(start: queries.row(q), count: 32)), k: 10, parameters: parameters)
                    let batchIds = Set(batch.ids[(q * 10)..<(q * 10 + one.count)])
                    same += one.filter { batchIds.contains($0.id) }.count
                    total += one.count
                    if let first = one.first {
                        XCTAssertEqual(batch.distances[q * 10], first.distance, accuracy: 1e-3 * max(1, abs(first.distance)), "\(metric) refine \(refine) query \(q)")
                    }
                }
                XCTAssertGreaterThanOrEqual(Double(same) / Double(total), 0.995, "\(metric) refine \(refine)")
            }
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

    /// A loaded `Refine` index re-ranks from its file's rows in place (a private mapping): adds
    /// that grow the rows and deletes never change the file, and opening it again gives the
    /// answers it gave before they happened.
    func testRefineRowsAreUsedInPlaceAndNeverChangeTheFile() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 1500, dimension: 16, clusters: 20, seed: 31)
        let queries = Fixtures.clustered(count: 30, dimension: 16, clusters: 20, seed: 32)
        for (bits, opq) in [(8, false), (4, false), (8, true)] {
            let name = "ivf-\(bits)-\(opq).idx", path = dir.file(name)
            try IVFPQIndex(metric: .l2, vectors: base, configuration: IVFPQConfiguration(nlist: 16, m: 4, bits: bits, refine: true, opq: opq,
                                                                                        iterations: 5, seed: 3), threads: 2).save(to: path)
            let before = dir.read(name)
            let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? IVFPQIndex)
            XCTAssertNotNil(loaded.vectors?.mapping, "\(name): rows copied, not used in place")
            let p = SearchParameters(nprobe: 6, rerank: 4)
            let answers = try loaded.search(queries, k: 5, parameters: p, threads: 1)
            for id in stride(from: 0, to: 1500, by: 3) { try loaded.delete(id: UInt64(id)) }
            for r in 0..<400 { try loaded.add(base.rowArray(r).map { $0 + 0.25 }, id: UInt64(10_000 + r)) }
            XCTAssertNil(loaded.vectors?.mapping, "\(name): growing moved the rows into memory")
            XCTAssertEqual(try loaded.search(base.rowArray(5).map { $0 + 0.25 }, k: 1, parameters: p).first?.id, 10_005, name)
            XCTAssertEqual(dir.read(name), before, "\(name): the file changed under the index")
            let again = try IndexLoader.load(path: path)
            let b = try again.search(queries, k: 5, parameters: p, threads: 1)
            XCTAssertEqual(b.ids, answers.ids, name)
            XCTAssertEqual(b.distances, answers.distances, name)
        }
    }

    /// The 4-bit fast scan: every distance it reports is the float-table distance of that code
    /// within m · step / 2 (step: the list's quantization step), for L2 and inner product.
    func testFastScanDistancesEqualTableDistancesWithinQuantization() throws {
        let d = 24, base = Fixtures.clustered(count: 2000, dimension: d, clusters: 12, seed: 31)
        let queries = Fixtures.clustered(count: 10, dimension: d, clusters: 12, seed: 32)
        for metric in [Metric.l2, .ip] {
            let index = try IVFPQIndex(metric: metric, vectors: base, configuration: IVFPQConfiguration(nlist: 8, m: 12, bits: 4, iterations: 6, seed: 2), threads: 2)
            let m = index.pq.m, mpad = FastScanLayout.paddedM(m)
            var where_: [Int: (list: Int, position: Int)] = [:]
            for l in 0..<8 { for (p, r) in index.listRows[l].enumerated() { where_[Int(r)] = (l, p) } }
            for qi in 0..<queries.count {
                let q = queries.rowArray(qi)
                let hits = try index.search(q, k: 200, parameters: SearchParameters(nprobe: 8))
                XCTAssertEqual(hits.count, 200)
                var table = [Float](repeating: 0, count: m * 16)
                index.pq.innerProductTable(q, scale: metric == .l2 ? -2 : -1, into: &table)
                var decoded = [Float](repeating: 0, count: d)
                for hit in hits {
                    let (l, p) = try XCTUnwrap(where_[Int(hit.id)])
                    let code = index.listCodes[l].withUnsafeBufferPointer { c in (0..<m).map { FastScanLayout.value(c.baseAddress!, m: m, position: p, sub: $0) } }
                    index.pq.decode(code, into: &decoded)
                    let centroid = index.centroids.rowArray(l)
                    let reconstructed = (0..<d).map { centroid[$0] + decoded[$0] }
                    var dot = 0.0
                    for j in 0..<d { dot += Double(q[j]) * Double(reconstructed[j]) }
                    let reference = metric == .l2 ? Fixtures.referenceDistance(.l2, q, reconstructed) : -dot
                    var lut = [UInt8](repeating: 0, count: mpad * 16)
                    var step: Float = 0, offset: Float = 0
                    if metric == .l2 {
                        index.listTables.withUnsafeBufferPointer { sk_pq4_quantize_lut(table, $0.baseAddress! + l * m * 16, m, mpad, &lut, &step, &offset) }
                    } else {
                        sk_pq4_quantize_lut(table, nil, m, mpad, &lut, &step, &offset)
                    }
                    let tolerance: Double = Double(m) * Double(step) / 2 * 1.001 + 1e-3 * max(1, abs(reference))
                    XCTAssertEqual(Double(hit.distance), reference, accuracy: tolerance, "\(metric) row \(hit.id)")
                }
            }
        }
    }

    func testFastScanRecallRisesWithNprobeAndReachesTargetWithReranking() throws {
        let base = Fixtures.clustered(count: 6000, dimension: 32, clusters: 40, seed: 11)
        let queries = Fixtures.clustered(count: 120, dimension: 32, clusters: 40, seed: 12)
        for metric in Metric.allCases {
            let index = try IVFPQIndex(metric: metric, vectors: base,
                                       configuration: IVFPQConfiguration(nlist: 32, m: 16, bits: 4, refine: true, iterations: 8, seed: 4), threads: 2)
            XCTAssertEqual(index.spec.description, "IVF32,PQ16x4fs,Refine")
            var previous = -1.0
            for nprobe in [1, 4, 16] {
                let r = try recall(index, base: base, metric: metric, queries: queries, parameters: SearchParameters(nprobe: nprobe, rerank: 1))
                XCTAssertGreaterThanOrEqual(r, previous - 0.005, "\(metric) nprobe \(nprobe)")
                previous = r
            }
            XCTAssertGreaterThan(previous, 0.15, "\(metric): 4-bit codes alone (16 centroids per 2-d sub-space: 0.21–0.48 here, as exact 4-bit PQ)")
            let refined = try recall(index, base: base, metric: metric, queries: queries, parameters: SearchParameters(nprobe: 32, rerank: 20))
            XCTAssertGreaterThanOrEqual(refined, 0.95, "\(metric) with re-ranking: \(refined)")
        }
    }

    /// Save/load, add (which fills a half block and then opens new ones) and delete, with an odd m.
    func testFastScanPersistenceAddAndDelete() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 1500, dimension: 15, clusters: 10, seed: 41)
        let queries = Fixtures.clustered(count: 20, dimension: 15, clusters: 10, seed: 42)
        let index = try IVFPQIndex(metric: .l2, vectors: base, configuration: IVFPQConfiguration(nlist: 4, m: 5, bits: 4, refine: true, iterations: 4, seed: 3), threads: 2)
        for i in 0..<70 { try index.add(queries.rowArray(i % 20).map { $0 + Float(i) * 1e-3 }, id: UInt64(10_000 + i)) }
        XCTAssertEqual(index.count, 1570)
        XCTAssertEqual(try index.search(queries.rowArray(3).map { $0 + 0.069 }, k: 1, parameters: SearchParameters(nprobe: 4, rerank: 50)).first?.id, 10_063)
        try index.delete(id: 10_063)
        try index.delete(id: 5)
        XCTAssertFalse(try index.search(queries.rowArray(3), k: 100, parameters: SearchParameters(nprobe: 4)).contains { $0.id == 10_063 || $0.id == 5 })
        let path = dir.file("fs.idx")
        try index.save(to: path)
        let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? IVFPQIndex)
        XCTAssertEqual(loaded.spec, .ivfpq(nlist: 4, m: 5, refine: true, bits: 4))
        XCTAssertEqual(loaded.count, 1568)
        for p in [SearchParameters(nprobe: 2, rerank: 1), SearchParameters(nprobe: 4, rerank: 4)] {
            let a = try index.search(queries, k: 10, parameters: p, threads: 1), b = try loaded.search(queries, k: 10, parameters: p, threads: 1)
            XCTAssertEqual(a.ids, b.ids)
            XCTAssertEqual(a.distances, b.distances)
        }
        // Codes take m/2 bytes once blocks are full: 1570 codes, 4 lists → at most 4 partial blocks.
        let codeBytes = index.listCodes.reduce(0) { $0 + $1.count }
        XCTAssertLessThanOrEqual(codeBytes, (1570 / 32 + 4) * 6 * 16)
    }

    /// A coarse HNSW graph finds the same lists as exact coarse search on almost every query, so
    /// recall matches the flat quantizer's; the graph is rebuilt identically on load.
    func testCoarseHNSWMatchesExactCoarseSearchAndSurvivesReload() throws {
        let base = Fixtures.clustered(count: 8000, dimension: 24, clusters: 60, seed: 51)
        let queries = Fixtures.clustered(count: 100, dimension: 24, clusters: 60, seed: 52)
        let dir = TemporaryDirectory()
        for metric in Metric.allCases {
            let flat = try IVFPQIndex(metric: metric, vectors: base, configuration: IVFPQConfiguration(nlist: 256, m: 8, refine: true, iterations: 6, seed: 5), threads: 2)
            let graph = try IVFPQIndex(metric: metric, vectors: base,
                                       configuration: IVFPQConfiguration(nlist: 256, m: 8, refine: true, coarseHNSW: 16, iterations: 6, seed: 5), threads: 2)
            XCTAssertEqual(graph.spec.description, "IVF256_HNSW16,PQ8,Refine")
            var sameLists = 0
            // nearestLists takes queries in stored form: unit length for cosine.
            let prepared = try VectorMatrix(dimension: 24, values: queries.flatArray())
            if metric == .cosine { try prepared.normalizeRows() }
            for q in 0..<queries.count {
                let a = flat.nearestLists(prepared.row(q), nprobe: 8, ef: nil), b = graph.nearestLists(prepared.row(q), nprobe: 8, ef: nil)
                if a.map(\.id) == b.map(\.id) { sameLists += 1 }
                for (x, y) in zip(a, b) where x.id == y.id { XCTAssertEqual(x.distance, y.distance, accuracy: 1e-3 * max(1, abs(x.distance))) }
            }
            XCTAssertGreaterThanOrEqual(sameLists, 95, "\(metric)")
            let p = SearchParameters(nprobe: 8, rerank: 10)
            let r1 = try recall(flat, base: base, metric: metric, queries: queries, parameters: p)
            let r2 = try recall(graph, base: base, metric: metric, queries: queries, parameters: p)
            XCTAssertGreaterThanOrEqual(r2, r1 - 0.01, "\(metric)")
            let path = dir.file("coarse-\(metric).idx")
            try graph.save(to: path)
            let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? IVFPQIndex)
            XCTAssertEqual(loaded.spec, graph.spec)
            XCTAssertEqual(try loaded.search(queries, k: 10, parameters: p, threads: 1).ids, try graph.search(queries, k: 10, parameters: p, threads: 1).ids)
        }
        XCTAssertEqual(try IndexSpec(parsing: "IVF4096_HNSW32,PQ16x4fs,Refine"), .ivfpq(nlist: 4096, m: 16, refine: true, bits: 4, coarseHNSW: 32))
        for bad in ["IVF64_HNSW,PQ8", "IVF64_FLAT,PQ8", "IVF64_HNSW1,PQ8", "IVF64_,PQ8"] { XCTAssertThrowsError(try IndexSpec(parsing: bad), bad) }
    }

    func testSpecsAndBadInput() throws {
        XCTAssertEqual(try IndexSpec(parsing: "IVF1024,PQ16"), .ivfpq(nlist: 1024, m: 16, refine: false))
        XCTAssertEqual(try IndexSpec(parsing: "ivf64,pq8,refine").description, "IVF64,PQ8,Refine")
        XCTAssertEqual(try IndexSpec(parsing: "OPQ16,IVF1024,PQ16,Refine"), .ivfpq(nlist: 1024, m: 16, refine: true, opq: true))
        XCTAssertEqual(IndexSpec.ivfpq(nlist: 64, m: 8, refine: false, opq: true).description, "OPQ8,IVF64,PQ8")
        XCTAssertEqual(try IndexSpec(parsing: "IVF1024,PQ32x4fs,Refine"), .ivfpq(nlist: 1024, m: 32, refine: true, bits: 4))
        XCTAssertEqual(try IndexSpec(parsing: "opq16,ivf64,pq16x4fs").description, "OPQ16,IVF64,PQ16x4fs")
        XCTAssertEqual(try IndexSpec(parsing: "IVF64,PQ16x8"), .ivfpq(nlist: 64, m: 16, refine: false))
        for bad in ["IVF0,PQ8", "IVF64", "IVF64,PQ", "IVF64,PQ8,Flat", "OPQ8,IVF64,PQ16", "OPQ,IVF64,PQ16", "OPQ8", "IVF64,PQ32x4", "IVF64,PQ300x4fs", "IVF64,PQx4fs"] {
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
