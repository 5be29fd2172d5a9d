import ShortlistCore
import ShortlistData
@testable import ShortlistModel
import XCTest
@testable import ShortlistTrainer

/// `TwoTowerModel.warmStart`: id embeddings started from other factors, matched by id.
final class WarmStartTests: XCTestCase {
    func testRowsArePlacedByIdWithTheirDirectionAndAFreshRowsLength() throws {
        let data = TrainerFixtures.groupedInteractions()
        var c = TwoTowerConfiguration()
        c.dimension = 4
        c.threads = 1
        let model = try TwoTowerModel(configuration: c, data: data)
        let before = model.itemTower.idTable.row(3)[0]
        // Factors for two known users (in another order) and one unknown, one known item.
        let users = try VectorMatrix(dimension: 4, values: [3, 0, 0, 4, /**/ 0, 1, 0, 0, /**/ 9, 9, 9, 9])
        let items = try VectorMatrix(dimension: 4, values: [0, 0, 2, 0])
        let set = try model.warmStart(users: users, userIds: [data.userIds[7], data.userIds[2], 999_999], items: items, itemIds: [data.itemIds[5]])
        XCTAssertEqual(set.users, 2)
        XCTAssertEqual(set.items, 1)
        let length: Float = 0.2   // 0.1 · √4
        let u7 = model.userTower.idTable.row(7), u2 = model.userTower.idTable.row(2), i5 = model.itemTower.idTable.row(5)
        func near(_ p: UnsafeMutablePointer<Float>, _ want: [Float], _ name: String) {
            for j in 0..<4 { XCTAssertEqual(p[j], want[j], accuracy: 1e-6, "\(name)[\(j)]") }
        }
        near(u7, [3 * length / 5, 0, 0, 4 * length / 5], "user 7")
        near(u2, [0, length, 0, 0], "user 2")
        near(i5, [0, 0, length, 0], "item 5")
        XCTAssertEqual(model.itemTower.idTable.row(3)[0], before, "items without factors keep their start")
    }

    func testFactorsOfAnotherWidthAreRefused() throws {
        let data = TrainerFixtures.groupedInteractions()
        var c = TwoTowerConfiguration()
        c.dimension = 8
        let model = try TwoTowerModel(configuration: c, data: data)
        let f = try VectorMatrix(dimension: 4, values: [1, 0, 0, 0])
        XCTAssertThrowsError(try model.warmStart(users: f, userIds: [data.userIds[0]], items: f, itemIds: [data.itemIds[0]]))
    }
}
