import Foundation
import ShortlistCore
import ShortlistData
import ShortlistModel

/// What `shortlist train` leaves in its output folder for a two-tower model: `model.slm` (the
/// serving artefact, with the data description), the towers' embeddings of every known item and
/// user (`item_embeddings.npy` / `.fvecs`, `user_embeddings.*`, with `*_ids.txt`), and
/// `item_payloads.jsonl` when the data has item titles or categories.
public enum TrainedModelFolder {
    /// What was written.
    public struct Written {
        /// Item embeddings, items × `model.embeddingDimension`, in `model.itemIds` order.
        public var items: VectorMatrix
        /// User embeddings, users × `model.embeddingDimension`, in `model.userIds` order.
        public var users: VectorMatrix
        /// Whether `item_payloads.jsonl` was written.
        public var itemPayloads: Bool
    }

    /// Writes the folder's files (each atomically), creating `folder` if needed.
    public static func write(_ model: TwoTowerModel, data: InteractionData, source: InteractionSource?, to folder: String) throws -> Written {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ModelFile.save(model, source: source, to: ModelFolder.path(folder, ModelFolder.modelFileName))
        let items = try model.itemEmbeddings(), users = try model.userEmbeddings()
        try FactorFiles(users: users, userIds: model.userIds, items: items, itemIds: model.itemIds).write(to: folder)
        let payloads = try ItemPayloads.write(model: model, data: data, to: ModelFolder.path(folder, ModelFolder.itemPayloadsName))
        return Written(items: items, users: users, itemPayloads: payloads)
    }
}
