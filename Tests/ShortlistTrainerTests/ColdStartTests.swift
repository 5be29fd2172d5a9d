import ShortlistCore
import ShortlistData
@testable import ShortlistTrainer
import ShortlistTestSupport
@testable import ShortlistModel
import XCTest

/// Models with request-time history, features and context, trained on `FeatureFixtures`
/// (groups visible in segments, genres and histories), against the baselines they must beat.
final class ColdStartTests: XCTestCase {
    private func data(coldUsers: Double = 0.1, coldItems: Double = 0.1) throws -> (InteractionData, TemporaryDirectory) {
        let dir = TemporaryDirectory()
        return (try InteractionData.read(FeatureFixtures.source(in: dir, coldUsers: coldUsers, coldItems: coldItems)), dir)
    }

    private func configuration() -> TwoTowerConfiguration {
        var c = FeatureFixtures.configuration(dimension: 16)
        c.userIdDropout = 0.5
        return c
    }

    func testUnseenUsersAndItemsAreEmbeddedFromWhatIsKnown() throws {
        let (data, _) = try data()
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: configuration(), data: data), data: data)
        trainer.run()
        let model = trainer.model
        XCTAssertTrue(model.embedsUnseenUsers)
        XCTAssertTrue(model.embedsItemsFromFeatures)
        XCTAssertEqual(model.requestFieldNames.context, ["hour", "weekday", "device"])
        let warm = try ColdStartEvaluator.evaluateWarm(model: model, data: data, test: true, threads: 1).value("recall@20")!
        let cold = try ColdStartEvaluator.evaluateColdUsers(model: model, data: data, threads: 1).value("recall@20")!
        let popular = try ColdStartEvaluator.mostPopularForColdUsers(data: data, threads: 1).value("recall@20")!
        // 20 items per group, 10 liked: a model that learned the groups finds the later ones.
        XCTAssertGreaterThan(cold, 2 * popular, "cold users \(cold) vs MostPop \(popular)")
        XCTAssertGreaterThan(cold, 0.7 * warm, "cold \(cold) vs warm \(warm)")
        let coldItems = try ColdStartEvaluator.evaluateColdItems(model: model, data: data, threads: 1)
        // Only 8 cold items: the top 20 holds them all, so compare the ordering (NDCG@10).
        XCTAssertGreaterThan(coldItems.amongCold.value("ndcg@10")!, 1.5 * coldItems.amongColdRandom.value("ndcg@10")!, "cold items vs random vectors")
        // Among all 80 items, new items from features are found; random vectors hardly.
        XCTAssertGreaterThan(coldItems.inCatalogue.value("recall@20")!, 3 * coldItems.inCatalogueRandom.value("recall@20")!, "in the catalogue")

        // One request, three ways: an unseen user from history alone ranks its group first.
        let group1 = data.itemIds.filter { ($0 - 500) % 4 == 1 }
        var vector = [Float](repeating: 0, count: model.embeddingDimension)
        try vector.withUnsafeMutableBufferPointer {
            try model.embedUser(UserQuery(history: Array(group1.prefix(4)), features: ["segment": .text("s1")], context: ["timestamp": .number(1_700_000_000), "device": .text("never-seen-device")]), into: $0.baseAddress!)
        }
        let items = try model.itemEmbeddings()
        let scores = (0..<items.count).map { r in zip(items.rowArray(r), vector).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        let top = scores.indices.sorted { scores[$0] > scores[$1] }.prefix(10).map { data.itemIds[$0] }
        XCTAssertGreaterThanOrEqual(top.filter { ($0 - 500) % 4 == 1 }.count, 8, "\(top)")
        // A new item described by features lands among its genre.
        let newItem = try model.embedItem(features: ["genre": .text("g2"), "tags": .list(["t2"]), "blurb": .text("about topic2")])
        let near = (0..<items.count).sorted { r1, r2 in
            zip(items.rowArray(r1), newItem).reduce(Float(0)) { $0 + $1.0 * $1.1 } > zip(items.rowArray(r2), newItem).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        }.prefix(5).map { data.itemIds[$0] }
        XCTAssertTrue(near.allSatisfy { ($0 - 500) % 4 == 2 }, "\(near)")

        // Names the model does not read are refused; an unknown id with nothing else is not found.
        XCTAssertThrowsError(try vector.withUnsafeMutableBufferPointer { try model.embedUser(UserQuery(features: ["colour": .text("red")]), into: $0.baseAddress!) }) {
            guard case .badFeature(let reason) = $0 as? TrainerError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("segment"), reason)
        }
        XCTAssertThrowsError(try vector.withUnsafeMutableBufferPointer { try model.embedUser(UserQuery(context: ["mood": .text("x")]), into: $0.baseAddress!) })
        XCTAssertThrowsError(try model.embedItem(features: ["segment": .text("s1")]))
        XCTAssertThrowsError(try model.embedUser(id: 999_999)) { XCTAssertEqual($0 as? TrainerError, .unknownId(999_999)) }
        // A known user named by id gets its stored history: the same as sending it.
        let u = data.userIds[3]
        let byId = try model.embedUser(id: u)
        var sent = [Float](repeating: 0, count: model.embeddingDimension)
        try sent.withUnsafeMutableBufferPointer { try model.embedUser(UserQuery(userId: u, history: model.seenItems(ofUser: u)!), into: $0.baseAddress!) }
        XCTAssertEqual(byId, sent)
    }

    func testHistoryNeverHoldsTheTrainingTargetAndRecencyWeightsSumToOne() throws {
        let (data, _) = try data(coldUsers: 0, coldItems: 0)
        let batch = TowerBatch(fieldCount: 1)
        batch.beginRow(id: 0)
        batch.addRecent(0, [Int32(1), 2, 3, 4], length: 3, decay: 0.5)
        XCTAssertEqual(batch.rows[0], [4, 3, 2], "the latest three, latest first")
        XCTAssertEqual(batch.weights[0].reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(batch.weights[0][0] / batch.weights[0][1], 2, accuracy: 1e-5)
        // The trainer's examples: the history of an interaction is the items before it, never
        // the interaction's own item; the context is the interaction's.
        var c = configuration()
        c.historyLength = 100
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        let model = trainer.model
        let seq = data.sequence
        let history = model.userFields.firstIndex { $0.role == .history }!
        let hour = model.userFields.firstIndex { $0.name == "hour" }!
        let pairs = Array(Int32(seq.offsets[2])..<Int32(seq.offsets[3]))   // pairs follow the sequence
        var users: [Int32] = [], items: [Int32] = []
        trainer.assembleBatch(pairs[...], users: &users, columnItems: &items)
        let examples = trainer.userBatch
        XCTAssertEqual(examples.count, pairs.count)
        for (r, e) in seq.entries(of: 2).enumerated() {
            let bag = examples.rows[history][Int(examples.offsets[history][r])..<Int(examples.offsets[history][r + 1])]
            XCTAssertEqual(items[r], seq.items[e])
            XCTAssertFalse(bag.contains(seq.items[e]), "entry \(e)")
            XCTAssertEqual(Set(bag), Set(seq.items[seq.offsets[2]..<e]), "entry \(e): the items before it")
            XCTAssertEqual(examples.rows[hour][r], seq.context[e * 3], "entry \(e): its own hour")
        }
    }

    func testFeatureModelRoundTripsThroughTheModelFile() throws {
        let (data, dir) = try data()
        var c = configuration()
        c.epochs = 1
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.run()
        let model = trainer.model
        try ModelFile.save(model, source: nil, to: dir.file("m.slm"))
        let loaded = try ModelFile.load(path: dir.file("m.slm")).model
        XCTAssertEqual(loaded.userFields, model.userFields)
        XCTAssertEqual(loaded.itemFields, model.itemFields)
        XCTAssertEqual(loaded.seen, model.seen)
        XCTAssertEqual(loaded.configuration, model.configuration)
        let query = UserQuery(history: Array(data.itemIds.prefix(3)), features: ["segment": .text("s2")], context: ["hour": .number(21)])
        var a = [Float](repeating: 0, count: model.embeddingDimension), b = a
        try a.withUnsafeMutableBufferPointer { try model.embedUser(query, into: $0.baseAddress!) }
        try b.withUnsafeMutableBufferPointer { try loaded.embedUser(query, into: $0.baseAddress!) }
        XCTAssertEqual(a, b)
        XCTAssertEqual(try loaded.embedItem(features: ["genre": .text("g1")]), try model.embedItem(features: ["genre": .text("g1")]))
        // The payload file carries titles-less items' categories.
        XCTAssertTrue(try ItemPayloads.write(model: model, data: data, to: dir.file("p.jsonl")))
        let first = String(decoding: dir.read("p.jsonl"), as: UTF8.self).split(separator: "\n")[0]
        XCTAssertTrue(first.hasPrefix("{\"id\":500,\"payload\":{\"genre\":\"g0\",\"tags\":["), String(first))
    }
}
