import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData
import ShortlistTrainer

/// A seeded interaction log whose structure is visible in features, history and context, as a
/// folder of files a schema reads: `log.csv` (user, item, timestamp, device), `items.csv`
/// (item, genre, tags, price, blurb), `users.jsonl` (user, segment, age) and `schema.json`.
///
/// Users and items fall into `groups`; a user's segment names its group, an item's genre its
/// group; each user interacts with `perUser` random items of its group, one per hour of a day
/// (so timestamps order them). The device column is noise.
public enum FeatureFixtures {
    public static func write(to dir: TemporaryDirectory, users: Int = 160, items: Int = 80, groups: Int = 4,
                             perUser: Int = 10, seed: UInt64 = 11) -> String {
        var generator = SeededGenerator(seed: seed)
        var log = "user,item,timestamp,device\n"
        let day: Double = 1_700_000_000
        for u in 0..<users {
            var mine = (0..<items).filter { $0 % groups == u % groups }
            mine.shuffle(using: &generator)
            for (j, item) in mine.prefix(perUser).enumerated() {
                let device = ["mobile", "tv", "web"][Int(generator.next() % 3)]
                log += "\(1000 + u),\(500 + item),\(Int(day) + u * 86_400 + j * 3600),\(device)\n"
            }
        }
        var itemText = "item,genre,tags,price,blurb\n"
        for i in 0..<items {
            itemText += "\(500 + i),g\(i % groups),t\(i % groups)|common,\(Double(i) * 1.5),\"a film about topic\(i % groups) and more\"\n"
        }
        var userText = ""
        for u in 0..<users { userText += "{\"user\":\(1000 + u),\"segment\":\"s\(u % groups)\",\"age\":\(20 + u % 40)}\n" }
        _ = dir.write("log.csv", text: log)
        _ = dir.write("items.csv", text: itemText)
        _ = dir.write("users.jsonl", text: userText)
        return dir.write("schema.json", text: """
        {"items": [{"file": "items.csv", "id": "item", "columns": [
            {"name": "genre", "type": "categorical"}, {"name": "tags", "type": "tags"},
            {"name": "price", "type": "numeric", "buckets": 4}, {"name": "blurb", "type": "text", "buckets": 64}]}],
         "users": [{"file": "users.jsonl", "id": "user", "columns": [{"name": "segment", "type": "categorical"}]}],
         "context": [{"name": "hour", "type": "hour"}, {"name": "weekday", "type": "weekday"},
                     {"name": "device", "type": "categorical"}]}
        """)
    }

    /// The fixture written into `dir`, read as a time-split csv log with its schema, holding out
    /// the given shares of users and items.
    public static func source(in dir: TemporaryDirectory, coldUsers: Double = 0, coldItems: Double = 0) -> InteractionSource {
        var s = InteractionSource(format: .csv, path: dir.file("log.csv"))
        s.schemaPath = write(to: dir)
        s.timeColumn = "timestamp"
        s.splitByTime = true
        s.coldUserFraction = coldUsers
        s.coldItemFraction = coldItems
        return s
    }

    /// A small model that learns the fixture in a second: a 5-item history, ids hidden from the
    /// item tower half the time.
    public static func configuration(dimension: Int) -> TwoTowerConfiguration {
        var c = TwoTowerConfiguration()
        c.dimension = dimension
        c.batchSize = 64
        c.epochs = 12
        c.patience = 0
        c.learningRate = 0.02
        c.threads = 1
        c.seed = 4
        c.historyLength = 5
        c.itemIdDropout = 0.5
        return c
    }
}
