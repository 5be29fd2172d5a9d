import ShortlistCore
import ShortlistTestSupport
import XCTest
@testable import ShortlistIndex

/// The HNSW planner's choice between scoring every allowed row and walking the graph.
final class FilterPlanTests: XCTestCase {
    func testTheScanIsChosenWhenItTouchesFewerRowsThanTheWalk() throws {
        let base = Fixtures.clustered(count: 4_000, dimension: 8, seed: 3)
        let index = try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 8, efConstruction: 40))
        // m · ef ÷ share at m 8, ef 64: 512 ÷ share.
        XCTAssertTrue(index.scansFilter(allowed: 400, ef: 64), "10%: 400 rows against a walk of ~5,120")
        XCTAssertTrue(index.scansFilter(allowed: 1_400, ef: 64), "35%: 1,400 rows against ~1,463")
        XCTAssertFalse(index.scansFilter(allowed: 1_500, ef: 64), "37.5%: 1,500 rows against ~1,365")
        XCTAssertFalse(index.scansFilter(allowed: 1_500, ef: 16), "a smaller ef favours the walk")
        XCTAssertTrue(index.scansFilter(allowed: 1_500, ef: 512), "a larger ef favours the scan")
        XCTAssertTrue(index.scansFilter(allowed: 0, ef: 1))
    }
}
