import ShortlistCore
import ShortlistData
import ShortlistTestSupport
@testable import ShortlistTrainer
@testable import ShortlistModel
import XCTest

final class TwoTowerTrainerTests: XCTestCase {
    private func configuration(threads: Int = 1) -> TwoTowerConfiguration {
        var c = TwoTowerConfiguration()
        c.dimension = 16
        c.batchSize = 64
        c.epochs = 30
        c.patience = 0
        c.learningRate = 0.02
        c.threads = threads
        c.seed = 11
        return c
    }

    private func parameters(_ model: TwoTowerModel) -> [[UInt32]] {
        model.parameterBuffers.map { $0.valueArray.map(\.bitPattern) }
    }

    func testLearnsGroupStructureFarBeyondPopularity() throws {
        let data = TrainerFixtures.groupedInteractions()
        for (name, tweak) in [("plain", { (c: inout TwoTowerConfiguration) in }),
                              ("mlp, features, negatives, learned τ", { c in
                                  c.hiddenWidths = [32]; c.uniformNegatives = 16; c.learnTemperature = true }),
                              ("adagrad", { c in c.embeddingOptimizer = .adagrad; c.learningRate = 0.1 }),
                              ("item bias, user history", { c in c.itemBias = true; c.userHistory = true })] {
            var c = configuration(threads: 2)
            tweak(&c)
            let featured = name.contains("features") ? TrainerFixtures.groupedInteractions(withFeatures: true) : data
            let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: featured), data: featured)
            let before = try trainer.evaluate(test: true).value("recall@10")!
            trainer.run()
            let after = try trainer.evaluate(test: true).value("recall@10")!
            // 20 items per group, 8 liked, 6 in train: the test item is one of the 14 others in the
            // user's group, so a model that learned the groups ranks it in the top 10 most of the time.
            XCTAssertGreaterThan(after, 0.55, "\(name): recall@10 \(after) (before \(before))")
            XCTAssertLessThan(before, 0.3, name)
            XCTAssertLessThan(trainer.history.last!.loss, trainer.history.first!.loss, name)
            if c.learnTemperature { XCTAssertNotEqual(trainer.model.temperature, 0.1, accuracy: 1e-4) }
        }
    }

    func testOneThreadRunsAreBitIdentical() throws {
        let data = TrainerFixtures.groupedInteractions()
        var c = configuration()
        c.epochs = 3
        c.hiddenWidths = [8]
        c.uniformNegatives = 8
        let a = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        let b = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        a.run(); b.run()
        XCTAssertEqual(parameters(a.model), parameters(b.model))
        c.seed = 12
        let other = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        other.run()
        XCTAssertNotEqual(parameters(a.model), parameters(other.model), "another seed gives another model")
    }

    func testResumeFromCheckpointContinuesBitForBit() throws {
        let data = TrainerFixtures.groupedInteractions(withFeatures: true)
        let dir = TemporaryDirectory()
        for optimizer in EmbeddingOptimizer.allCases {
            var c = configuration()
            c.epochs = 4
            c.patience = 2
            c.hiddenWidths = [8]
            c.learnTemperature = true
            c.uniformNegatives = 4
            c.embeddingOptimizer = optimizer
            c.itemBias = optimizer == .adagrad
            c.userHistory = optimizer == .adam
            let straight = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
            for _ in 0..<4 { straight.trainEpoch() }

            let first = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
            first.trainEpoch(); first.trainEpoch()
            let path = dir.file("checkpoint-\(optimizer).slm")
            try first.saveCheckpoint(to: path, source: nil)
            let resumed = try TwoTowerTrainer.resume(from: path, data: data)
            XCTAssertEqual(resumed.epoch, 2)
            XCTAssertEqual(resumed.history, first.history)
            resumed.trainEpoch(); resumed.trainEpoch()
            XCTAssertEqual(parameters(resumed.model), parameters(straight.model), "\(optimizer)")
            XCTAssertEqual(resumed.history.map(\.loss), straight.history.map(\.loss))
            XCTAssertEqual(resumed.bestEpoch, straight.bestEpoch)
            resumed.restoreBest(); straight.restoreBest()
            XCTAssertEqual(parameters(resumed.model), parameters(straight.model), "best weights survive the checkpoint")
        }
    }

    func testEarlyStoppingKeepsTheBestEpoch() throws {
        let data = TrainerFixtures.groupedInteractions()
        var c = configuration()
        c.epochs = 60
        c.patience = 2
        c.learningRate = 0.05
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.run()
        XCTAssertLessThan(trainer.epoch, 60, "patience 2 stops a 60-epoch run early on this tiny data")
        let recalls = trainer.history.compactMap(\.validRecall20)
        XCTAssertEqual(recalls.count, trainer.epoch)
        XCTAssertEqual(trainer.epoch - trainer.bestEpoch, 2)
        let kept = try trainer.evaluate(test: false).value("recall@20")!
        XCTAssertEqual(kept, recalls.max()!, accuracy: 1e-12, "the restored weights are the best epoch's")
        var best = -1.0, plateaus = 0
        for r in recalls { if r > best { best = r } else { plateaus += 1 } }
        XCTAssertGreaterThanOrEqual(plateaus, 2)
        XCTAssertEqual(trainer.learningRateScale, Float(pow(0.5, Double(plateaus))), "the rate halves on every epoch without a new best")
    }

    /// Decoupled weight decay: a touched row shrinks by 1 − lr·λ before its step (a zero gradient
    /// leaves only the shrink), an untouched row keeps its values; both optimisers.
    func testWeightDecayShrinksTouchedRowsOnly() {
        for optimizer in EmbeddingOptimizer.allCases {
            let table = EmbeddingTable(rows: 3, dimension: 4, batchCapacity: 4)
            for j in 0..<12 { table.parameters.values[j] = Float(j + 1) }
            let zero = [Float](repeating: 0, count: 4)
            zero.withUnsafeBufferPointer { table.gradient.add(row: 1, $0.baseAddress!) }
            let hyper = AdamHyperparameters(learningRate: 0.01, weightDecay: 2)
            table.applyGradient(optimizer, hyper, step: 1)
            for j in 0..<4 {
                XCTAssertEqual(table.parameters.values[j], Float(j + 1), "\(optimizer): untouched row 0")
                XCTAssertEqual(table.parameters.values[4 + j], Float(5 + j) * 0.98, accuracy: 1e-6, "\(optimizer): touched row 1")
            }
        }
    }

    func testConfigurationRefusesNonsense() {
        for tweak in [{ (c: inout TwoTowerConfiguration) in c.dimension = 0 }, { c in c.temperature = 0 },
                      { c in c.temperature = .nan }, { c in c.batchSize = 1 }, { c in c.learningRate = -1 },
                      { c in c.hiddenWidths = [0] }, { c in c.threads = 0 }, { c in c.epochs = 0 },
                      { c in c.weightDecay = -0.1 }, { c in c.weightDecay = .nan }, { c in c.weightDecay = 1000 }] {
            var c = TwoTowerConfiguration()
            tweak(&c)
            XCTAssertThrowsError(try c.validate())
        }
    }

    func testItemBiasIsExportedAsAColumnRankedByInnerProduct() throws {
        let data = TrainerFixtures.groupedInteractions()
        var c = configuration()
        c.itemBias = true
        c.epochs = 3
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.run()
        let model = trainer.model
        XCTAssertEqual(model.scoreMetric, .ip)
        let users = try model.userEmbeddings(), items = try model.itemEmbeddings()
        XCTAssertEqual(users.dimension, 17)
        XCTAssertEqual(items.dimension, 17)
        XCTAssertEqual(users.rowArray(7)[16], 1)
        let bias = model.itemBias!
        XCTAssertTrue((0..<bias.count).contains { bias.values[$0] != 0 }, "the bias trains")
        for i in [0, 5, 79] { XCTAssertEqual(items.rowArray(i)[16], model.temperature * bias.values[i], accuracy: 1e-6) }
        XCTAssertEqual(try model.embedUser(id: 70), users.rowArray(7))
        XCTAssertEqual(try TwoTowerModel(configuration: configuration(), data: data).scoreMetric, .cosine)
    }

    func testUserEmbeddingByExternalId() throws {
        let data = TrainerFixtures.groupedInteractions()
        let model = try TwoTowerModel(configuration: configuration(), data: data)
        let all = try model.userEmbeddings()
        XCTAssertEqual(try model.embedUser(id: 30), all.rowArray(3))
        XCTAssertThrowsError(try model.embedUser(id: 31)) { XCTAssertEqual($0 as? TrainerError, .unknownId(31)) }
    }
}
