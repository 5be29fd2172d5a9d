import ShortlistCore
import ShortlistTestSupport
import XCTest
@testable import ShortlistIndex

/// The HNSW planner's choice between scoring every allowed row and walking the graph.
final class FilterPlanTests: XCTestCase {
    func testTheScanIsChosenWhenItTouchesFewerRowsThanTheWalk() throws {
        let base = Fixtures.clustered(count: 4_000, dimension: 8, seed: 3)
        let index = try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 8, efConstruction: 40))
        // 2m · ef ÷ share at m 8 (16 links on layer 0), ef 64: 1,024 ÷ share.
        XCTAssertTrue(index.scansFilter(allowed: 400, ef: 64), "10%: 400 rows against a walk of ~10,240")
        XCTAssertTrue(index.scansFilter(allowed: 2_000, ef: 64), "50%: 2,000 rows against ~2,048")
        XCTAssertFalse(index.scansFilter(allowed: 2_100, ef: 64), "52.5%: 2,100 rows against ~1,950")
        XCTAssertFalse(index.scansFilter(allowed: 2_100, ef: 16) == index.scansFilter(allowed: 2_100, ef: 512), "a larger ef favours the scan")
        XCTAssertTrue(index.scansFilter(allowed: 0, ef: 1))
    }
}
