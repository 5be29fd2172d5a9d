import ShortlistData
import XCTest

final class RecallTests: XCTestCase {
    func testRecallCountsIntersectionsAndIgnoresPaddingAndOrder() {
        let truth = IntMatrix(count: 2, width: 3, values: [1, 2, 3, 4, 5, 6])
        let results = IntMatrix(count: 2, width: 3, values: [3, 9, 1, -1, -1, 4])
        XCTAssertEqual(Recall.at(3, results: results, groundTruth: truth), 3.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(Recall.at(1, results: results, groundTruth: truth), 0, accuracy: 1e-12)
        XCTAssertEqual(Recall.at(3, results: truth, groundTruth: truth), 1)
    }
}
