import ShortlistBench
import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class SweepGridTests: XCTestCase {
    func testAFileSetsSomeKnobsAndKeepsTheOthers() throws {
        let dir = TemporaryDirectory()
        let grid = try SweepGrid(file: dir.write("g.json", text: #"{"ef":[8,40],"rerank":2}"#))
        XCTAssertEqual(grid.ef, [8, 40])
        XCTAssertEqual(grid.nprobe, SweepGrid().nprobe)
        XCTAssertEqual(grid.points(for: try IndexSpec(parsing: "IVF16,PQ4")).first, SearchParameters(nprobe: 1, rerank: 2))
        XCTAssertEqual(grid.points(for: try IndexSpec(parsing: "HNSW16")), [SearchParameters(ef: 8), SearchParameters(ef: 40)])
        XCTAssertEqual(grid.points(for: try IndexSpec(parsing: "Flat")), [SearchParameters()])
        for bad in [#"{"ef":[]}"#, #"{"ef":"8"}"#, #"{"m":[1]}"#, "{}", "[1]", #"{"rerank":1.5}"#] {
            XCTAssertThrowsError(try SweepGrid(file: dir.write("bad.json", text: bad)), bad)
        }
    }
}
