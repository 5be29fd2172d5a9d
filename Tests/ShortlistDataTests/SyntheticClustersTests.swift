import ShortlistCore
import ShortlistData
import XCTest

final class SyntheticClustersTests: XCTestCase {
    /// Rows depend only on (seed, stream, row): threads and offsets change nothing; another
    /// seed or stream gives other rows.
    func testRowsAreFixedBySeedStreamAndRowNumber() throws {
        var mixture = SyntheticClusters(dimension: 24, seed: 5)
        mixture.clusters = 50
        let one = try mixture.generate(count: 10_000, threads: 1).flatArray()
        XCTAssertEqual(try mixture.generate(count: 10_000, threads: 2).flatArray(), one)
        XCTAssertEqual(try mixture.generate(count: 3_000, first: 7_000, threads: 2).flatArray(), Array(one[(7_000 * 24)...]))
        XCTAssertNotEqual(try mixture.generate(count: 100, stream: 1).flatArray(), Array(one[..<(100 * 24)]))
        mixture.seed = 6
        XCTAssertNotEqual(try mixture.generate(count: 100).flatArray(), Array(one[..<(100 * 24)]))
    }

    /// The rows are clustered: a row's nearest other row is far closer than a random pair, and
    /// later components spread less than early ones.
    func testRowsFormClustersWithADecayingSpectrum() throws {
        var mixture = SyntheticClusters(dimension: 32, seed: 9)
        mixture.clusters = 20
        mixture.separation = 4
        let rows = try mixture.generate(count: 2_000)
        func distance(_ a: Int, _ b: Int) -> Float {
            (0..<32).reduce(0) { $0 + (rows.row(a)[$1] - rows.row(b)[$1]) * (rows.row(a)[$1] - rows.row(b)[$1]) }
        }
        var nearest: Float = 0, random: Float = 0
        for a in 0..<50 {
            nearest += (0..<2_000).filter { $0 != a }.map { distance(a, $0) }.min()!
            random += distance(a, (a * 7919 + 13) % 2_000)
        }
        XCTAssertLessThan(nearest * 3, random, "nearest \(nearest / 50) against random pairs \(random / 50)")
        func variance(_ j: Int) -> Float {
            let mean = (0..<2_000).reduce(0) { $0 + rows.row($1)[j] } / 2_000
            return (0..<2_000).reduce(0) { $0 + (rows.row($1)[j] - mean) * (rows.row($1)[j] - mean) } / 2_000
        }
        XCTAssertGreaterThan((0..<4).map(variance).reduce(0, +), 1.5 * (28..<32).map(variance).reduce(0, +))
    }

    func testSettingsOutOfRangeAreRefused() {
        var mixture = SyntheticClusters(dimension: 0, seed: 1)
        XCTAssertThrowsError(try mixture.generate(count: 1)) { XCTAssert("\($0)".contains("dimension must be")) }
        mixture.dimension = 8
        mixture.skew = .nan
        XCTAssertThrowsError(try mixture.validate()) { XCTAssert("\($0)".contains("skew must be")) }
        mixture.skew = 1
        mixture.clusters = 0
        XCTAssertThrowsError(try mixture.validate()) { XCTAssert("\($0)".contains("clusters must be")) }
    }
}
