import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData

/// The exported embeddings of a model folder: `user_embeddings` and `item_embeddings` (`.npy`
/// and `.fvecs`, count × dimension, row-major) with their external ids in `user_ids.txt` and
/// `item_ids.txt`. `train` writes them for the towers and for `--model als`; `--warm-start`,
/// `evaluate` and `recommend` of an ALS folder read them back.
public struct FactorFiles {
    public var users: VectorMatrix
    public var userIds: [UInt64]
    public var items: VectorMatrix
    public var itemIds: [UInt64]

    public init(users: VectorMatrix, userIds: [UInt64], items: VectorMatrix, itemIds: [UInt64]) {
        self.users = users
        self.userIds = userIds
        self.items = items
        self.itemIds = itemIds
    }

    /// Reads the `.npy` files and the ids of `folder`; throws `corruptModel` unless rows and ids
    /// match and users and items have one width.
    public init(folder: String) throws {
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        users = try VectorFile.read(path: path("user_embeddings.npy")).matrix
        items = try VectorFile.read(path: path("item_embeddings.npy")).matrix
        userIds = try IdFile.read(path: path("user_ids.txt"))
        itemIds = try IdFile.read(path: path("item_ids.txt"))
        guard users.count == userIds.count, items.count == itemIds.count, users.dimension == items.dimension else {
            throw TrainerError.corruptModel("\(folder): embeddings and ids do not match (\(users.count) user rows, \(userIds.count) ids; \(items.count) item rows, \(itemIds.count) ids; widths \(users.dimension) and \(items.dimension))")
        }
    }

    /// The factors' width.
    public var width: Int { users.dimension }

    /// Writes all six files into `folder`.
    public func write(to folder: String) throws {
        for (name, matrix, ids) in [("item", items, itemIds), ("user", users, userIds)] {
            for ext in ["npy", "fvecs"] {
                try VectorFile.write(matrix, to: (folder as NSString).appendingPathComponent("\(name)_embeddings.\(ext)"))
            }
            try IdFile.write(ids, to: (folder as NSString).appendingPathComponent("\(name)_ids.txt"))
        }
    }
}
