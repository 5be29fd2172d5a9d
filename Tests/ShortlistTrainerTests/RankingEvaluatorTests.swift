import ShortlistCore
import ShortlistData
@testable import ShortlistModel
@testable import ShortlistTrainer
import XCTest

final class RankingEvaluatorTests: XCTestCase {
    /// Two users, five items on a line; scores are dot products, so the ranking is known.
    func testFullRankingWithMaskMatchesHandComputedMetrics() throws {
        // User 0 prefers high item numbers, user 1 low ones.
        let users = try VectorMatrix(dimension: 1, values: [1, -1])
        let items = try VectorMatrix(dimension: 1, values: [0, 1, 2, 3, 4])
        let target = InteractionMatrix(rowCount: 2, users: [0, 0, 1], items: [2, 0, 1])
        let mask = InteractionMatrix(rowCount: 2, users: [0], items: [4])
        let m = RankingEvaluator.evaluate(users: users, items: items, target: target, mask: mask, threads: 2, block: 1)
        // User 0 ranking (item 4 masked): 3, 2, 1, 0 → hits at ranks 2 and 4 of 2 relevant.
        // User 1 ranking: 0, 1, 2, 3, 4 → hit at rank 2 of 1 relevant.
        XCTAssertEqual(m.userCount, 2)
        XCTAssertEqual(m.value("recall@10")!, 1, accuracy: 1e-12)
        let ndcgUser0 = (1 / log2(3.0) + 1 / log2(5.0)) / (1 + 1 / log2(3.0))
        let ndcgUser1 = (1 / log2(3.0)) / 1
        XCTAssertEqual(m.value("ndcg@10")!, (ndcgUser0 + ndcgUser1) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.value("hr@10")!, 1, accuracy: 1e-12)
    }
}
