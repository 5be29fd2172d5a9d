import ShortlistModel
import Foundation
import ShortlistCore
import ShortlistData

/// What `shortlist train --model als` writes, and reads back for `shortlist evaluate`: the
/// factors as `user_embeddings` / `item_embeddings` (.npy and .fvecs, ids in `*_ids.txt`, the
/// same files a two-tower model exports), `als.json` (the settings) and `source.txt` (where the
/// interactions came from and how they were split, `InteractionSource.serialized`). Scores are
/// inner products of the factors.
public enum ALSModelFolder {
    /// A folder read back.
    public struct Loaded {
        public var users: VectorMatrix
        public var items: VectorMatrix
        public var userIds: [UInt64]
        public var itemIds: [UInt64]
        public var source: InteractionSource

        /// The interactions the model was trained on, read again from `source` (or from `path`
        /// when the data has moved) and split the same way; throws unless they hold the
        /// model's users and items.
        public func interactions(path: String? = nil) throws -> InteractionData {
            var source = source
            if let path { source.path = path }
            let data = try InteractionData.read(source)
            guard data.userIds == userIds, data.itemIds == itemIds else {
                throw TrainerError.dataMismatch("\(source.path) now holds other users or items than the model was trained on")
            }
            return data
        }
    }

    /// Whether `folder` holds an ALS model.
    public static func holdsModel(_ folder: String) -> Bool {
        ModelFolder.holdsALSModel(folder)
    }

    /// `tuning`: what `--tune-budget` did, kept in `als.json` and, record by record, in
    /// `tuning.csv` (settings written by `describe`).
    public static func write(_ als: ImplicitALS, data: InteractionData, source: InteractionSource, to folder: String,
                             tuning: TuningSummary? = nil, describe: (Int) -> String = { _ in "" }) throws {
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        try FactorFiles(users: als.userFactors, userIds: data.userIds, items: als.itemFactors, itemIds: data.itemIds).write(to: folder)
        let c = als.configuration
        let settings = """
        {"model":"als","factors":\(c.factors),"regularization":\(c.regularization),"alpha":\(c.alpha),\
        "iterations":\(als.iterationsDone),"cg_steps":\(c.cgSteps),"seed":\(c.seed),"tuning":\(tuning?.json ?? "null")}

        """
        try AtomicFileWriter.write(Array(settings.utf8), to: path("als.json"))
        try AtomicFileWriter.write(Array(source.serialized.utf8), to: path("source.txt"))
        if let tuning { try AtomicFileWriter.write(Array(tuning.csv(describe: describe).utf8), to: path("tuning.csv")) }
    }

    public static func read(_ folder: String) throws -> Loaded {
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let factors = try FactorFiles(folder: folder)
        guard let text = FileManager.default.contents(atPath: path("source.txt")) else {
            throw TrainerError.corruptModel("\(folder) has no source.txt (where the interactions came from)")
        }
        return Loaded(users: factors.users, items: factors.items, userIds: factors.userIds, itemIds: factors.itemIds,
                      source: try InteractionSource(serialized: String(decoding: text, as: UTF8.self)))
    }

    /// Full-ranking metrics of `users` · `items`ᵀ on the validation split (training items
    /// masked) or the test split (training and validation items masked).
    public static func evaluate(users: VectorMatrix, items: VectorMatrix, data: InteractionData, test: Bool, threads: Int) -> RankingMetrics {
        RankingEvaluator.evaluate(users: users, items: items, target: test ? data.test : data.valid,
                                  mask: test ? data.train.union(data.valid) : data.train, threads: threads)
    }
}
