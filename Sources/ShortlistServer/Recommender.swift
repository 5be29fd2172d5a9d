import ShortlistFeatures
import ShortlistProtocol
import ShortlistModel
import Foundation
import ShortlistIndex
import Synchronization

/// What `recommend` needs beside the item index, all from the model folder written by
/// `shortlist train` (never the training data): the towers, vocabularies and per-user seen
/// sets in `model.slm`, and the items' titles and categories in `item_payloads.jsonl`.
final class Recommender: @unchecked Sendable {
    let modelPath: String
    private let model: Mutex<TwoTowerModel>
    /// Components of a user vector (the item index must have this dimension).
    let dimension: Int
    let userCount: Int
    /// Whether the model stores each user's seen items (`exclude_seen` by user id).
    let hasSeenSets: Bool
    /// What requests may send: user feature, item feature and context names; whether the user
    /// tower embeds unseen users and the item tower new items.
    let inputs: (user: [String], item: [String], context: [String])
    let embedsUnseenUsers: Bool
    let embedsItems: Bool
    let historyLength: Int
    /// Payloads by item id from `item_payloads.jsonl` (empty without it).
    let payloads: [UInt64: [UInt8]]

    /// Loads `model.slm` (and `item_payloads.jsonl` when present) from the folder `directory`.
    init(directory: String) throws {
        guard !ModelFolder.holdsALSModel(directory) else { throw TrainerError.needsTowers(directory) }
        modelPath = ModelFolder.path(directory, ModelFolder.modelFileName)
        let model = try ModelFile.load(path: modelPath).model
        dimension = model.embeddingDimension
        userCount = model.userIds.count
        hasSeenSets = model.seen != nil
        inputs = model.requestFieldNames
        embedsUnseenUsers = model.embedsUnseenUsers
        embedsItems = model.embedsItemsFromFeatures
        historyLength = model.configuration.historyLength
        let payloadPath = ModelFolder.path(directory, ModelFolder.itemPayloadsName)
        payloads = FileManager.default.fileExists(atPath: payloadPath) ? try PayloadFile.read(path: payloadPath) : [:]
        self.model = Mutex(model)
    }

    /// Throws `ModelIndexMatch.Mismatch` unless `index` holds this model's items under their ids,
    /// `MetricMismatch` unless it ranks as the model does.
    func verify(_ index: any MutableVectorIndex) throws {
        let (ids, embeddings, metric) = try model.withLock { ($0.itemIds, try $0.itemEmbeddings(), $0.scoreMetric) }
        try ModelIndexMatch.verify(metric: metric, index: index)
        try ModelIndexMatch.verify(itemIds: ids, embeddings: embeddings, index: index)
    }

    /// The user tower's output for what the request knows (the tower's workspace is shared,
    /// so calls are serialised; each takes microseconds).
    func userVector(_ query: UserQuery) throws -> [Float] {
        var out = [Float](repeating: 0, count: dimension)
        do {
            try model.withLock { m in try out.withUnsafeMutableBufferPointer { try m.embedUser(query, into: $0.baseAddress!) } }
        } catch TrainerError.unknownId(let id) {
            let hint = embedsUnseenUsers ? "; send its history, features or context to embed it" : ""
            throw ProtocolError(.notFound, "no user has id \(id) in the model\(hint)")
        } catch TrainerError.badFeature(let reason) {
            throw ProtocolError(.invalidParameter, reason)
        }
        return out
    }

    /// The item tower's output for a new item's features (`embeddingDimension` floats).
    func itemVector(features: [String: FeatureValue]) throws -> [Float] {
        do {
            return try model.withLock { try $0.embedItem(features: features) }
        } catch TrainerError.badFeature(let reason) {
            throw ProtocolError(.invalidParameter, reason)
        }
    }

    /// The items `userId` interacted with in training and validation, for `exclude_seen`
    /// (none for a user the model does not know).
    func seenItems(_ userId: UInt64) throws -> [UInt64] {
        guard let seen = model.withLock({ $0.seenItems(ofUser: userId) }) else {
            throw ProtocolError(.unsupported, "exclude_seen by user id needs seen sets, which \(modelPath) does not hold (retrain with this version, or send the history)")
        }
        return seen
    }
}
