import ShortlistFeatures
import ShortlistCore
import ShortlistData

/// Seeded synthetic interactions with a learnable structure: users and items fall into `groups`;
/// each user likes `perUser` random items of its own group. Of each user's items, one goes to
/// valid and one to test.
enum TrainerFixtures {
    static func groupedInteractions(users: Int = 120, items: Int = 80, groups: Int = 4, perUser: Int = 8,
                                    seed: UInt64 = 3, withFeatures: Bool = false) -> InteractionData {
        var generator = SeededGenerator(seed: seed)
        var parts: [([Int32], [Int32])] = Array(repeating: ([], []), count: 3)
        for u in 0..<users {
            let group = u % groups
            var mine = (0..<items).filter { $0 % groups == group }.map(Int32.init)
            mine.shuffle(using: &generator)
            for (j, item) in mine.prefix(perUser).enumerated() {
                let part = j == 0 ? 2 : (j == 1 ? 1 : 0)
                parts[part].0.append(Int32(u))
                parts[part].1.append(item)
            }
        }
        let m = parts.map { InteractionMatrix(rowCount: users, users: $0.0, items: $0.1) }
        var data = InteractionData(userIds: (0..<UInt64(users)).map { $0 * 10 }, itemIds: (0..<UInt64(items)).map { $0 + 1000 },
                                   train: m[0], valid: m[1], test: m[2])
        if withFeatures {
            data.itemFeatures = [FeatureField(name: "genres", vocabularySize: groups + 1,
                                              bags: (0..<items).map { [Int32($0 % groups), Int32(groups)] })]
            data.userFeatures = [FeatureField(name: "age", vocabularySize: 3, bags: (0..<users).map { $0 % 5 == 0 ? [] : [Int32($0 % 3)] })]
        }
        return data
    }
}
