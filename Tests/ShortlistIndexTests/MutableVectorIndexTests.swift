import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

/// Inserts, deletes, upserts and stored-vector reads, for every index kind.
final class MutableVectorIndexTests: XCTestCase {
    private let d = 12

    private func kinds(metric: Metric) throws -> [any MutableVectorIndex] {
        let base = Fixtures.clustered(count: 600, dimension: d, seed: 5)
        return [
            try FlatIndex(metric: metric, vectors: Fixtures.clustered(count: 600, dimension: d, seed: 5)),
            try HNSWIndex(metric: metric, vectors: base, configuration: HNSWConfiguration(m: 8, efConstruction: 64)),
            try IVFPQIndex(metric: metric, vectors: base, configuration: IVFPQConfiguration(nlist: 8, m: 4, refine: true)),
            try IVFPQIndex(metric: metric, vectors: base, configuration: IVFPQConfiguration(nlist: 8, m: 6)),
        ]
    }

    func testFlatDeleteMovesTheLastRowAndStaysExact() throws {
        let base = Fixtures.clustered(count: 200, dimension: d, seed: 8)
        let reference = try FlatIndex(metric: .l2, vectors: Fixtures.clustered(count: 200, dimension: d, seed: 8))
        let flat = try FlatIndex(metric: .l2, vectors: Fixtures.clustered(count: 200, dimension: d, seed: 8))
        for id: UInt64 in [0, 57, 199, 100] { try flat.delete(id: id) }
        XCTAssertEqual(flat.count, 196)
        XCTAssertThrowsError(try flat.delete(id: 57)) { XCTAssertEqual($0 as? IndexError, .unknownId(57)) }
        let query = base.rowArray(57)
        let got = try flat.search(query, k: 20).map(\.id)
        let want = try reference.search(query, k: 30).map(\.id).filter { ![0, 57, 199, 100].contains($0) }.prefix(20)
        XCTAssertEqual(got, Array(want))
        // Re-adding a deleted id works, and the stored vector comes back unchanged.
        try flat.add(base.rowArray(57), id: 57)
        XCTAssertEqual(flat.storedVector(id: 57), base.rowArray(57))
        XCTAssertEqual(try flat.search(query, k: 1).first?.id, 57)
    }

    func testStoredVectorsComeBackAsSearched() throws {
        let base = Fixtures.clustered(count: 600, dimension: d, seed: 5)
        for metric in Metric.allCases {
            for index in try kinds(metric: metric) {
                for id: UInt64 in [0, 17, 599] {
                    guard let v = index.storedVector(id: id) else { return XCTFail("\(index.spec) lost \(id)") }
                    var want = base.rowArray(Int(id))
                    if metric == .cosine {
                        let norm = want.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        want = want.map { $0 / norm }
                    }
                    let error = zip(v, want).map { abs($0 - $1) }.max()!
                    let scale = want.map(abs).max()!
                    // Exact for Flat, HNSW and refined IVF-PQ; a quantized reconstruction otherwise.
                    let exact = !(index is IVFPQIndex) || index.spec.description.contains("Refine")
                    XCTAssertLessThan(error, exact ? 1e-4 * max(1, scale) : 0.5 * scale, "\(index.spec) \(metric) id \(id)")
                }
                XCTAssertNil(index.storedVector(id: 12345))
            }
        }
    }

    func testUpsertReplacesAndBadVectorsChangeNothing() throws {
        for index in try kinds(metric: .cosine) {
            let before = index.count
            let v = [Float](repeating: 0.5, count: d)
            try index.upsert(v, id: 3)
            XCTAssertEqual(index.count, before, "\(index.spec): replacing keeps the count")
            let hit = try index.search(v, k: 1, parameters: SearchParameters(ef: 64, nprobe: 8)).first
            XCTAssertEqual(hit?.id, 3, "\(index.spec)")
            let stored = index.storedVector(id: 3)!
            if !(index is IVFPQIndex) || index.spec.description.contains("Refine") {
                XCTAssertEqual(stored[0], stored[5], accuracy: 1e-5, "\(index.spec): the new vector replaced the old")
            }
            for bad in [[Float](repeating: 1, count: d - 1), [Float](repeating: .nan, count: d), [Float](repeating: 0, count: d)] {
                XCTAssertThrowsError(try index.upsert(bad, id: 3), "\(index.spec)")
                XCTAssertThrowsError(try index.upsert(bad, id: 9_999), "\(index.spec)")
            }
            XCTAssertEqual(index.count, before)
            XCTAssertTrue(index.contains(id: 3))
            XCTAssertFalse(index.contains(id: 9_999))
            try index.upsert(v, id: 9_999)
            XCTAssertEqual(index.count, before + 1)
            try index.delete(id: 9_999)
            XCTAssertEqual(index.count, before)
            XCTAssertFalse(index.contains(id: 9_999))
        }
    }
}
