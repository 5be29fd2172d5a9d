import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import XCTest

final class TuningTableTests: XCTestCase {
    private let table = TuningTable(k: 10, entries: [
        .init(parameters: SearchParameters(ef: 16), recall: 0.90, microseconds: 50),
        .init(parameters: SearchParameters(ef: 24), recall: 0.95, microseconds: 70),
        .init(parameters: SearchParameters(ef: 28), recall: 0.96, microseconds: 68),  // timing noise
        .init(parameters: SearchParameters(ef: 64), recall: 0.99, microseconds: 150),
    ])

    func testChoosesTheSmallestKnobThatReachesTheTargetDespiteNoise() {
        XCTAssertEqual(table.parameters(forRecall: 0.95)?.parameters.ef, 24)
        XCTAssertEqual(table.parameters(forRecall: 0.955)?.parameters.ef, 28)
        XCTAssertEqual(table.parameters(forRecall: 0.5)?.parameters.ef, 16)
        XCTAssertNil(table.parameters(forRecall: 0.995))
        XCTAssertEqual(table.bestRecall, 0.99)
        let ivf = TuningTable(k: 10, entries: [
            .init(parameters: SearchParameters(nprobe: 8, rerank: 1), recall: 0.80, microseconds: 40),
            .init(parameters: SearchParameters(nprobe: 16, rerank: 1), recall: 0.86, microseconds: 70),
            .init(parameters: SearchParameters(nprobe: 8, rerank: 4), recall: 0.90, microseconds: 60),
        ])
        XCTAssertEqual(ivf.parameters(forRecall: 0.85)?.parameters, SearchParameters(nprobe: 8, rerank: 4), "cheaper across ladders")
    }

    func testStoredInTheIndexFileWithoutDisturbingIt() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 300, dimension: 8, seed: 4)
        let index = try HNSWIndex(metric: .l2, vectors: base, configuration: HNSWConfiguration(m: 8, efConstruction: 40))
        try index.save(to: dir.file("h.idx"))
        XCTAssertNil(try TuningTable.read(indexAt: dir.file("h.idx")))
        try table.store(inIndexAt: dir.file("h.idx"))
        XCTAssertEqual(try TuningTable.read(indexAt: dir.file("h.idx")), table)
        // Storing again replaces the section rather than adding one.
        var other = table
        other.entries.removeLast()
        try other.store(inIndexAt: dir.file("h.idx"))
        XCTAssertEqual(try TuningTable.read(indexAt: dir.file("h.idx")), other)
        let reloaded = try IndexLoader.load(path: dir.file("h.idx"))
        XCTAssertEqual(try reloaded.search(base.rowArray(5), k: 3, parameters: .default).map(\.id), try index.search(base.rowArray(5), k: 3).map(\.id))
        // A damaged table is refused like any damaged section.
        var bytes = dir.read("h.idx")
        bytes[bytes.count - 3] ^= 0xFF
        dir.write("h.idx", bytes)
        XCTAssertThrowsError(try TuningTable.read(indexAt: dir.file("h.idx")))
    }
}
