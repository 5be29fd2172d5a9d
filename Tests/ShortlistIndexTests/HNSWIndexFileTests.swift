import Foundation
import ShortlistCore
@testable import ShortlistIndex
import ShortlistTestSupport
import XCTest

/// HNSW files: round trips, use in place, renumbered rows, inconsistent graphs.
final class HNSWIndexFileTests: XCTestCase {
    private let configuration = HNSWConfiguration(m: 12, efConstruction: 80, seed: 3)

    func testPersistenceRoundTripGivesIdenticalAnswers() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 1500, dimension: 10, normSpread: 4, seed: 71)
        let queries = Fixtures.clustered(count: 40, dimension: 10, normSpread: 4, seed: 72)
        for (metric, storage) in Metric.allCases.flatMap({ m in VectorStorage.allCases.map { (m, $0) } }) {
            var configuration = self.configuration
            configuration.storage = storage
            let index = try HNSWIndex(metric: metric, vectors: base, ids: (0..<1500).map { UInt64($0 * 5) }, configuration: configuration, threads: 2)
            try index.delete(id: 5)
            try index.delete(id: 10)
            // Takes one of the two deleted rows.
            try index.add(Array(repeating: 0.5, count: 10), id: 99_999)
            let path = dir.file("\(metric)-\(storage).idx")
            try index.save(to: path)
            let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? HNSWIndex)
            XCTAssertEqual(loaded.spec, .hnsw(m: 12, storage: configuration.storage))
            XCTAssertEqual(loaded.configuration, configuration)
            XCTAssertEqual(loaded.count, index.count)
            XCTAssertEqual(loaded.deletedCount, 1)
            XCTAssertFalse(loaded.contains(id: 5))
            XCTAssertFalse(loaded.contains(id: 10))
            XCTAssertTrue(loaded.contains(id: 99_999))
            let a = try index.search(queries, k: 10, parameters: SearchParameters(ef: 40), threads: 1)
            let b = try loaded.search(queries, k: 10, parameters: SearchParameters(ef: 40), threads: 1)
            XCTAssertEqual(a.ids, b.ids, "\(metric)")
            XCTAssertEqual(a.distances, b.distances, "\(metric)")
        }
    }

    /// A loaded index uses its file's rows, codes and links in place (a private mapping): adds
    /// and deletes that grow and rewrite them never change the file, and opening it again gives
    /// the answers it gave before they happened.
    func testAnIndexUsedInPlaceNeverChangesItsFile() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 800, dimension: 12, seed: 141)
        let queries = Fixtures.clustered(count: 30, dimension: 12, seed: 142)
        for storage in VectorStorage.allCases {
            var configuration = self.configuration
            configuration.storage = storage
            let path = dir.file("\(storage).idx")
            try HNSWIndex(metric: .l2, vectors: base, configuration: configuration, threads: 2).save(to: path)
            let before = dir.read("\(storage).idx")
            let loaded = try XCTUnwrap(try IndexLoader.load(path: path) as? HNSWIndex)
            let answers = try loaded.search(queries, k: 5, parameters: SearchParameters(ef: 40), threads: 1)
            for id in stride(from: 0, to: 800, by: 3) { try loaded.delete(id: UInt64(id)) }
            for r in 0..<600 { try loaded.add(base.rowArray(r % 800).map { $0 + 0.25 }, id: UInt64(10_000 + r)) }
            XCTAssertEqual(loaded.count, 800 - 267 + 600)
            XCTAssertGreaterThan(loaded.rows, 800, "\(storage): the adds grew the graph past the file's rows")
            XCTAssertEqual(try loaded.search(base.rowArray(5).map { $0 + 0.25 }, k: 1).first?.id, 10_005, "\(storage)")
            XCTAssertEqual(dir.read("\(storage).idx"), before, "\(storage): the file changed under the index")
            let again = try XCTUnwrap(try IndexLoader.load(path: path) as? HNSWIndex)
            let b = try again.search(queries, k: 5, parameters: SearchParameters(ef: 40), threads: 1)
            XCTAssertEqual(b.ids, answers.ids, "\(storage)")
            XCTAssertEqual(b.distances, answers.distances, "\(storage)")
        }
    }

    /// A build leaves its rows in breadth-first order from the entry point, and renumbering rows
    /// (any permutation) changes no answer and no input row's id, before and after a round trip.
    func testRenumberingKeepsEveryAnswer() throws {
        let dir = TemporaryDirectory()
        let base = Fixtures.clustered(count: 700, dimension: 10, seed: 151)
        let queries = Fixtures.clustered(count: 25, dimension: 10, seed: 152)
        let ids = (0..<700).map { UInt64(5_000 + 7 * $0) }
        for storage in VectorStorage.allCases {
            for metric in [Metric.l2, .ip, .cosine] {
                var configuration = self.configuration
                configuration.storage = storage
                let index = try HNSWIndex(metric: metric, vectors: base, ids: ids, configuration: configuration, threads: 2)
                let label = "\(storage) \(metric)"
                XCTAssertEqual(index.breadthFirstOrder(), (0..<700).map { UInt32($0) }, "\(label): rows are in breadth-first order")
                XCTAssertEqual(index.inputIds, ids, label)
                let p = SearchParameters(ef: 50)
                let before = try index.search(queries, k: 8, parameters: p, threads: 1)
                var shuffled = (0..<UInt32(700)).map { $0 }
                var generator = SeededGenerator(seed: 153)
                shuffled.shuffle(using: &generator)
                index.renumber(shuffled)
                XCTAssertNotEqual(index.rowIds, ids, label)
                XCTAssertEqual(index.inputIds, ids, "\(label): input rows keep their ids")
                let after = try index.search(queries, k: 8, parameters: p, threads: 1)
                XCTAssertEqual(after.ids, before.ids, label)
                XCTAssertEqual(after.distances, before.distances, label)
                try index.save(to: dir.file("r.idx"))
                let loaded = try XCTUnwrap(try IndexLoader.load(path: dir.file("r.idx")) as? HNSWIndex)
                XCTAssertEqual(loaded.inputIds, ids, label)
                XCTAssertEqual(try loaded.search(queries, k: 8, parameters: p, threads: 1).ids, before.ids, label)
                try loaded.delete(id: ids[3])
                try loaded.add(base.rowArray(3), id: 1)
                XCTAssertTrue(loaded.contains(id: 1) && !loaded.contains(id: ids[3]), label)
                if metric != .ip { XCTAssertEqual(try loaded.search(base.rowArray(3), k: 1, parameters: p).first?.id, 1, label) }
            }
        }
    }

    /// A file whose checksums are valid but whose graph points outside itself is refused, not followed.
    func testInconsistentGraphIsRefused() throws {
        let dir = TemporaryDirectory()
        let index = try HNSWIndex(metric: .l2, vectors: Fixtures.clustered(count: 200, dimension: 4, seed: 81), configuration: configuration)
        try index.save(to: dir.file("good.idx"))
        let contents = try IndexFile.read(path: dir.file("good.idx"))
        var sections: [IndexFile.Section] = []
        for entry in contents.sectionList {
            var bytes = Array(contents.sections[entry.tag]!)
            if entry.tag == "LNK0" { bytes.replaceSubrange(4..<8, with: [0xFF, 0xFF, 0, 0]) }  // row 0's first link → 65535
            sections.append(IndexFile.Section(tag: entry.tag, payload: .bytes(bytes)))
        }
        try IndexFile.write(path: dir.file("bad.idx"), header: contents.header, sections: sections)
        XCTAssertThrowsError(try IndexLoader.load(path: dir.file("bad.idx"))) { error in
            guard case .inconsistent(_, let reason)? = error as? IndexFileError else { return XCTFail("\(error)") }
            XCTAssert(reason.contains("links to 65535"), reason)
        }
    }
}
