import ShortlistCore
import ShortlistTestSupport
import XCTest

final class TopKHeapsTests: XCTestCase {
    func testKeepsTheKSmallestSortedWithTiesToTheLowerId() {
        var rng = SeededGenerator(seed: 9)
        for k in [1, 2, 5, 10, 64] {
            let heaps = TopKHeaps(heapCount: 3, k: k)
            var all: [[Neighbor]] = [[], [], []]
            for i in 0..<500 {
                let h = i % 3
                // Coarse values force many ties.
                let d = Float(rng.next() % 50)
                let id = rng.next() % 10_000
                heaps.push(h, distance: d, id: id)
                all[h].append(Neighbor(id: id, distance: d))
            }
            for h in 0..<3 {
                XCTAssertEqual(heaps.sorted(h), Array(all[h].sorted().prefix(k)), "k=\(k) heap \(h)")
                XCTAssertEqual(heaps.threshold(h), all[h].sorted()[k - 1].distance)
            }
        }
    }

    func testThresholdIsInfiniteUntilFullAndResetEmpties() {
        let heaps = TopKHeaps(heapCount: 1, k: 3)
        XCTAssertEqual(heaps.threshold(0), .infinity)
        heaps.push(0, distance: 1, id: 1)
        heaps.push(0, distance: 2, id: 2)
        XCTAssertEqual(heaps.threshold(0), .infinity)
        heaps.push(0, distance: 3, id: 3)
        XCTAssertEqual(heaps.threshold(0), 3)
        heaps.reset()
        XCTAssertEqual(heaps.size(0), 0)
        XCTAssertEqual(heaps.sorted(0), [])
    }
}
