import Foundation
import ShortlistCore
import ShortlistData
import ShortlistTestSupport
@testable import ShortlistTrainer
@testable import ShortlistModel
import XCTest

final class ModelFileTests: XCTestCase {
    private func trainedModel() throws -> (TwoTowerModel, InteractionSource) {
        let data = TrainerFixtures.groupedInteractions(withFeatures: true)
        var c = TwoTowerConfiguration()
        c.dimension = 8
        c.hiddenWidths = [12]
        c.itemBias = true
        c.userHistory = true
        c.weightDecay = 0.05
        c.batchSize = 32
        c.epochs = 2
        c.threads = 1
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.run()
        var source = InteractionSource(format: .movielens, path: "/data/ml")
        source.minRating = 3.5
        source.ratingColumn = "rating"
        return (trainer.model, source)
    }

    func testRoundTripKeepsWeightsIdsFeaturesAndSource() throws {
        let (model, source) = try trainedModel()
        let dir = TemporaryDirectory()
        try ModelFile.save(model, source: source, to: dir.file("model.slm"))
        let loaded = try ModelFile.load(path: dir.file("model.slm"))
        XCTAssertEqual(try loaded.source(), source)
        XCTAssertEqual(loaded.model.configuration, model.configuration)
        XCTAssertEqual(loaded.model.userIds, model.userIds)
        XCTAssertEqual(loaded.model.itemIds, model.itemIds)
        XCTAssertEqual(loaded.model.userFields, model.userFields)
        XCTAssertEqual(loaded.model.itemFields, model.itemFields)
        XCTAssertEqual(try loaded.model.itemEmbeddings().flatArray(), try model.itemEmbeddings().flatArray())
        XCTAssertEqual(try loaded.model.embedUser(id: 50), try model.embedUser(id: 50))
    }

    func testCorruptedTruncatedAndNewerFilesAreRefused() throws {
        let (model, _) = try trainedModel()
        let dir = TemporaryDirectory()
        try ModelFile.save(model, source: nil, to: dir.file("model.slm"))
        let good = dir.read("model.slm")
        XCTAssertNil(try ModelFile.load(path: dir.file("model.slm")).source())

        var flipped = good
        flipped[good.count / 2] ^= 0x40
        _ = dir.write("flipped.slm", flipped)
        XCTAssertThrowsError(try ModelFile.load(path: dir.file("flipped.slm"))) { error in
            guard case .corruptModel(let reason) = error as? TrainerError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("checksum"), reason)
        }
        for cut in [0, 10, 30, good.count / 3, good.count - 1] {
            _ = dir.write("cut.slm", Array(good[0..<cut]))
            XCTAssertThrowsError(try ModelFile.load(path: dir.file("cut.slm")), "cut at \(cut)") { error in
                guard case .corruptModel = error as? TrainerError else { return XCTFail("cut \(cut): \(error)") }
            }
        }
        _ = dir.write("index.slm", Array("SLINDEX1".utf8) + good[8...])
        XCTAssertThrowsError(try ModelFile.load(path: dir.file("index.slm")))

        var newer = good
        newer[8] = 4   // version 4, with the header checksum recomputed
        let crc = Checksum.crc32c(Array(newer[0..<60]))
        for j in 0..<4 { newer[60 + j] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(j))) }
        _ = dir.write("newer.slm", newer)
        XCTAssertThrowsError(try ModelFile.load(path: dir.file("newer.slm"))) {
            XCTAssertEqual($0 as? TrainerError, .unsupportedVersion(found: 4, supported: 3))
        }
        XCTAssertThrowsError(try ModelFile.load(path: dir.file("missing.slm")))
    }

    func testCheckpointOfOtherDataIsRefused() throws {
        let data = TrainerFixtures.groupedInteractions()
        var c = TwoTowerConfiguration()
        c.dimension = 4
        c.batchSize = 16
        c.threads = 1
        let trainer = try TwoTowerTrainer(model: try TwoTowerModel(configuration: c, data: data), data: data)
        trainer.trainEpoch()
        let dir = TemporaryDirectory()
        try trainer.saveCheckpoint(to: dir.file("c.slm"), source: nil)
        let other = TrainerFixtures.groupedInteractions(users: 100)
        XCTAssertThrowsError(try TwoTowerTrainer.resume(from: dir.file("c.slm"), data: other)) {
            guard case .dataMismatch = $0 as? TrainerError else { return XCTFail("\($0)") }
        }
        // A plain model file is not a checkpoint.
        try ModelFile.save(trainer.model, source: nil, to: dir.file("m.slm"))
        XCTAssertThrowsError(try TwoTowerTrainer.resume(from: dir.file("m.slm"), data: data))
    }
}

final class ModelFileCompatibilityTests: XCTestCase {
    func testVersion1FilesStillLoadAndEmbedAsTheyDid() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("v1.slm", Array(Data(base64Encoded: ModelFileGolden.version1Base64, options: .ignoreUnknownCharacters)!))
        let model = try ModelFile.load(path: path).model
        XCTAssertEqual(model.featureNames.user, ["history"])
        XCTAssertEqual(model.featureNames.item, ["genres", "title"])
        XCTAssertNil(model.seen, "version 1 had no seen sets")
        let user = try model.embedUser(id: 2)
        for (a, b) in zip(user, ModelFileGolden.version1User2) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        let item = try model.itemEmbeddings().rowArray(0)
        for (a, b) in zip(item, ModelFileGolden.version1Item1) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // Written again, it is a version-3 file with the same model.
        try ModelFile.save(model, source: nil, to: dir.file("v3.slm"))
        XCTAssertEqual(dir.read("v3.slm")[8], 3)
        XCTAssertEqual(try ModelFile.load(path: dir.file("v3.slm")).model.embedUser(id: 2), user)
        XCTAssertTrue(try ModelFile.describe(path: path).contains { $0.0 == "user features" && $0.1 == "history" })
    }

    /// Versions 2 (the old container) and 3 (`SectionFile`) hold the same model; the version-3
    /// file is what today's writer produces, byte for byte.
    func testVersion2And3FilesLoadAndVersion3IsRewrittenExactly() throws {
        let dir = TemporaryDirectory()
        let description = "format=movielens\npath=/tmp/tinyml\n"
        for (version, text) in [(2, ModelFileGolden.version2Base64), (3, ModelFileGolden.version3Base64)] {
            let bytes = Array(Data(base64Encoded: text, options: .ignoreUnknownCharacters)!)
            XCTAssertEqual(bytes[8], UInt8(version))
            let path = dir.write("v\(version).slm", bytes)
            let loaded = try ModelFile.load(path: path)
            XCTAssertEqual(loaded.dataDescription, description)
            for (a, b) in zip(try loaded.model.embedUser(id: 2), ModelFileGolden.version1User2) { XCTAssertEqual(a, b, accuracy: 1e-6) }
            for (a, b) in zip(try loaded.model.itemEmbeddings().rowArray(0), ModelFileGolden.version1Item1) { XCTAssertEqual(a, b, accuracy: 1e-6) }
            XCTAssertTrue(try ModelFile.describe(path: path).contains { $0.0 == "format version" && $0.1 == "v\(version)" })
            try ModelFile.save(loaded.model, dataDescription: description, to: dir.file("again.slm"))
            if version == 3 { XCTAssertEqual(dir.read("again.slm"), bytes, "the version-3 writer changed") }
        }
    }

    func testDuplicateSectionsAreRefused() throws {
        let dir = TemporaryDirectory()
        let good = Array(Data(base64Encoded: ModelFileGolden.version1Base64, options: .ignoreUnknownCharacters)!)
        // Append a second copy of the first section (CONF) and count it in the header.
        let confLength = Int(good[28]) | Int(good[29]) << 8
        var twice = good + good[24..<(24 + 16 + confLength)]
        twice[12] += 1
        let crc = Checksum.crc32c(Array(twice[0..<16]))
        for j in 0..<4 { twice[16 + j] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(j))) }
        XCTAssertThrowsError(try ModelFile.load(path: dir.write("twice.slm", twice))) {
            XCTAssertTrue("\($0)".contains("appears twice"), "\($0)")
        }
    }
}

final class TrainedModelFolderTests: XCTestCase {
    func testTheFolderHoldsTheModelEmbeddingsAndIds() throws {
        let data = TrainerFixtures.groupedInteractions(withFeatures: true)
        var c = TwoTowerConfiguration()
        c.dimension = 8
        c.epochs = 1
        c.threads = 1
        let model = try TwoTowerModel(configuration: c, data: data)
        let dir = TemporaryDirectory()
        let folder = dir.file("out/model")
        let written = try TrainedModelFolder.write(model, data: data, source: nil, to: folder)
        XCTAssertEqual(written.items.count, model.itemIds.count)
        XCTAssertEqual(written.users.count, model.userIds.count)
        let loaded = try ModelFile.load(path: folder + "/model.slm").model
        XCTAssertEqual(try loaded.itemEmbeddings().flatArray(), written.items.flatArray())
        let factors = try FactorFiles(folder: folder)
        XCTAssertEqual(factors.itemIds, model.itemIds)
        XCTAssertEqual(factors.items.flatArray(), written.items.flatArray())
        XCTAssertEqual(factors.userIds, model.userIds)
    }
}
