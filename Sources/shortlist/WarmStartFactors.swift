import ArgumentParser
import Foundation
import ShortlistCore
import ShortlistData

/// The user and item factors `train --warm-start DIR` starts the towers' id embeddings from:
/// `user_embeddings.npy` + `user_ids.txt` and `item_embeddings.npy` + `item_ids.txt` (what
/// `train`, and `train --model als`, write).
struct WarmStartFactors {
    let folder: String
    let users: VectorMatrix
    let userIds: [UInt64]
    let items: VectorMatrix
    let itemIds: [UInt64]
    var width: Int { users.dimension }

    init(folder: String) throws {
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        self.folder = folder
        users = try VectorFile.read(path: path("user_embeddings.npy")).matrix
        items = try VectorFile.read(path: path("item_embeddings.npy")).matrix
        userIds = try IdFile.read(path: path("user_ids.txt"))
        itemIds = try IdFile.read(path: path("item_ids.txt"))
        guard users.count == userIds.count, items.count == itemIds.count, users.dimension == items.dimension else {
            throw ValidationError("--warm-start: \(folder) holds \(users.count) user rows for \(userIds.count) ids and \(items.count) item rows for \(itemIds.count) ids, widths \(users.dimension) and \(items.dimension)")
        }
    }
}
