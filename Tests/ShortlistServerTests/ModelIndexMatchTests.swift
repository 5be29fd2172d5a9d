import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistTestSupport
import ShortlistTrainer
import ShortlistModel
import XCTest
@testable import ShortlistServer

final class ModelIndexMatchTests: XCTestCase {
    func testAnIndexWhoseIdsAreNotTheModelsItemIdsIsRefused() throws {
        // A model's items: ids that are not row numbers (MovieLens' movie ids, say).
        let embeddings = Fixtures.clustered(count: 500, dimension: 16, seed: 12)
        let itemIds = (0..<500).map { UInt64(1 + 7 * $0) }
        let right = try FlatIndex(metric: .ip, vectors: embeddings, ids: itemIds)
        XCTAssertNoThrow(try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: right))
        // Built without --ids: rows numbered 0, 1, 2, … (a few coincide with item ids, holding
        // other items' vectors).
        let rowNumbered = try FlatIndex(metric: .ip, vectors: embeddings)
        XCTAssertThrowsError(try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: rowNumbered)) { error in
            XCTAssertTrue("\(error)".contains("not the model's item ids"), "\(error)")
        }
        // The right ids on the wrong rows.
        let reversed = try FlatIndex(metric: .ip, vectors: embeddings, ids: Array(itemIds.reversed()))
        XCTAssertThrowsError(try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: reversed)) { error in
            guard let m = error as? ModelIndexMatch.Mismatch else { return XCTFail("\(error)") }
            XCTAssertEqual(m.missing, 0)
            XCTAssertGreaterThan(m.misplaced, 200)
        }
        // Normalised (cosine), graph and quantized indexes of the right ids pass; a few items
        // missing (deleted since) are tolerated.
        let hnsw = try HNSWIndex(metric: .cosine, vectors: embeddings, ids: itemIds, configuration: HNSWConfiguration(m: 8), threads: 1)
        XCTAssertNoThrow(try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: hnsw))
        let ivf = try IVFPQIndex(metric: .l2, vectors: embeddings, ids: itemIds, configuration: IVFPQConfiguration(nlist: 4, m: 8, iterations: 4), threads: 1)
        XCTAssertNoThrow(try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: ivf))
        for id in itemIds.prefix(10) { try right.delete(id: id) }
        XCTAssertNoThrow(try ModelIndexMatch.verify(itemIds: itemIds, embeddings: embeddings, index: right))
    }

    func testAModelThatRanksByInnerProductNeedsAnInnerProductIndex() throws {
        let embeddings = Fixtures.clustered(count: 50, dimension: 8, seed: 2)
        for metric in [Metric.cosine, .l2] {
            let index = try FlatIndex(metric: metric, vectors: embeddings)
            XCTAssertThrowsError(try ModelIndexMatch.verify(metric: .ip, index: index)) { error in
                XCTAssertEqual(error as? ModelIndexMatch.MetricMismatch, ModelIndexMatch.MetricMismatch(model: .ip, index: metric))
                XCTAssertTrue("\(error)".contains("rebuild it with --metric ip"), "\(error)")
            }
            XCTAssertNoThrow(try ModelIndexMatch.verify(metric: .cosine, index: index), "unit-length embeddings rank alike by any metric")
        }
        XCTAssertNoThrow(try ModelIndexMatch.verify(metric: .ip, index: try FlatIndex(metric: .ip, vectors: embeddings)))
    }

    func testServeRefusesAModelWithAnIndexOfOtherIds() throws {
        let dir = TemporaryDirectory()
        let d = try ServerFixtures.writeRecommenderCollection(in: dir)
        XCTAssertNoThrow(try ServedCollection(d))
        // The model's item embeddings under the wrong ids (reversed).
        let model = try ModelFile.load(path: d.modelDirectory! + "/model.slm").model
        let wrong = try FlatIndex(metric: model.scoreMetric, vectors: try model.itemEmbeddings(), ids: Array(model.itemIds.reversed()))
        try wrong.save(to: dir.file("wrong.idx"))
        XCTAssertThrowsError(try ServedCollection(.init(name: "m", indexPath: dir.file("wrong.idx"), modelDirectory: d.modelDirectory))) { error in
            XCTAssertTrue("\(error)".contains("not the model's item ids"), "\(error)")
        }
    }
}
