import ShortlistCore
import XCTest

final class SeededGeneratorTests: XCTestCase {
    func testSameSeedSameSequenceDifferentSeedDifferentSequence() {
        var a = SeededGenerator(seed: 1), b = SeededGenerator(seed: 1), c = SeededGenerator(seed: 2)
        let sa = (0..<100).map { _ in a.next() }
        XCTAssertEqual(sa, (0..<100).map { _ in b.next() })
        XCTAssertNotEqual(sa, (0..<100).map { _ in c.next() })
    }

    func testFixedSequenceNeverChanges() {
        // Pinned so that seeded builds stay reproducible across versions.
        var g = SeededGenerator(seed: 0)
        XCTAssertEqual(g.next(), 0x99EC_5F36_CB75_F2B4)
    }

    func testUnitValuesInRangeAndGaussianMoments() {
        var g = SeededGenerator(seed: 5)
        var sum = 0.0, sumSq = 0.0
        let n = 200_000
        for _ in 0..<n {
            let u = g.nextUnitFloat()
            XCTAssert(u >= 0 && u < 1)
            let x = Double(g.nextGaussian())
            sum += x; sumSq += x * x
        }
        XCTAssertEqual(sum / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sumSq / Double(n), 1, accuracy: 0.02)
    }
}
