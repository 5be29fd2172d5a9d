import Foundation
import ShortlistData
import ShortlistIndex
import ShortlistTrainer
import Synchronization

/// What `recommend` needs beside the item index: the trained user tower and, when the training
/// data is still where the model file says, each user's seen (train and valid) items and the
/// item titles.
final class Recommender: @unchecked Sendable {
    let modelPath: String
    private let model: Mutex<TwoTowerModel>
    /// Components of a user vector (the item index must have this dimension).
    let dimension: Int
    let userCount: Int
    /// Seen items per user id; nil when the training data could not be read.
    let seen: [UInt64: [UInt64]]?
    /// Item titles by id (MovieLens); empty when the data names none.
    let titles: [UInt64: String]

    /// Loads `model.slm` from the folder `directory` written by `shortlist train`.
    init(directory: String) throws {
        modelPath = (directory as NSString).appendingPathComponent("model.slm")
        let loaded = try ModelFile.load(path: modelPath)
        let model = loaded.model
        dimension = model.embeddingDimension
        userCount = model.userIds.count
        var seen: [UInt64: [UInt64]]?
        var titles: [UInt64: String] = [:]
        if let source = loaded.source, FileManager.default.fileExists(atPath: source.path),
           let data = try? InteractionData.read(source), data.itemIds == model.itemIds {
            var map: [UInt64: [UInt64]] = [:]
            map.reserveCapacity(data.userIds.count)
            for (row, user) in data.userIds.enumerated() {
                map[user] = (data.train.items(of: row) + data.valid.items(of: row)).map { data.itemIds[Int($0)] }
            }
            seen = map
            if data.itemTitles.count == data.itemIds.count {
                for (i, t) in zip(data.itemIds, data.itemTitles) where !t.isEmpty { titles[i] = t }
            }
        }
        self.seen = seen
        self.titles = titles
        self.model = Mutex(model)
    }

    /// Throws `ModelIndexMatch.Mismatch` unless `index` holds this model's items under their ids.
    func verify(_ index: any MutableVectorIndex) throws {
        let (ids, embeddings) = try model.withLock { ($0.itemIds, try $0.itemEmbeddings()) }
        try ModelIndexMatch.verify(itemIds: ids, embeddings: embeddings, index: index)
    }

    /// The user tower's output for `userId` (the tower's workspace is shared, so calls are serialised; each takes microseconds).
    func userVector(_ userId: UInt64) throws -> [Float] {
        do {
            return try model.withLock { try $0.embedUser(id: userId) }
        } catch TrainerError.unknownId {
            throw ProtocolError(.notFound, "no user has id \(userId) in the model")
        }
    }

    /// The items `userId` interacted with in training, for `exclude_seen`.
    func seenItems(_ userId: UInt64) throws -> [UInt64] {
        guard let seen else {
            throw ProtocolError(.unsupported, "exclude_seen needs the model's training data, which was not found beside \(modelPath)")
        }
        return seen[userId] ?? []
    }
}
