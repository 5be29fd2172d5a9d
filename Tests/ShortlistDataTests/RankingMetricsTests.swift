import Foundation
import ShortlistData
import XCTest

final class RankingMetricsTests: XCTestCase {
    private func add(_ m: inout RankingMetrics, ranked: [Int32], relevant: [Int32]) {
        ranked.withUnsafeBufferPointer { m.add(ranked: $0, relevant: relevant[...]) }
    }

    func testHandComputedValues() {
        var m = RankingMetrics()
        // User A: 3 relevant {7, 8, 9}; hits at ranks 1 and 12; 9 never ranked.
        var ranked = [Int32](repeating: 100, count: 100)
        for k in 0..<100 { ranked[k] = Int32(200 + k) }
        ranked[0] = 7
        ranked[11] = 8
        add(&m, ranked: ranked, relevant: [7, 8, 9])
        // User B: 1 relevant at rank 25; a short list (-1 ends it).
        var short = [Int32](repeating: -1, count: 100)
        for k in 0..<30 { short[k] = Int32(300 + k) }
        short[24] = 5
        add(&m, ranked: short, relevant: [5])
        // A user with nothing relevant is not counted.
        add(&m, ranked: ranked, relevant: [])
        XCTAssertEqual(m.userCount, 2)
        XCTAssertEqual(m.value("recall@10")!, (1.0 / 3 + 0) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.value("recall@20")!, (2.0 / 3 + 0) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.value("recall@50")!, (2.0 / 3 + 1) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.value("recall@100")!, (2.0 / 3 + 1) / 2, accuracy: 1e-12)
        let idcg3 = 1 + 1 / log2(3.0) + 1 / log2(4.0)
        XCTAssertEqual(m.value("ndcg@10")!, (1 / idcg3) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.value("ndcg@20")!, ((1 + 1 / log2(13.0)) / idcg3) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.value("hr@10")!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(m.values.map(\.name), ["recall@10", "recall@20", "recall@50", "recall@100", "ndcg@10", "ndcg@20", "hr@10"])
    }

    func testMergeEqualsAddingEverything() {
        var all = RankingMetrics(), a = RankingMetrics(), b = RankingMetrics()
        let r1: [Int32] = Array(0..<100), r2: [Int32] = Array((0..<100).reversed())
        add(&all, ranked: r1, relevant: [3, 50]); add(&all, ranked: r2, relevant: [99])
        add(&a, ranked: r1, relevant: [3, 50]); add(&b, ranked: r2, relevant: [99])
        a.merge(b)
        XCTAssertEqual(a, all)
    }
}
