import ShortlistModel
import ShortlistCore
import ShortlistData

/// Full-ranking evaluation as requests would see it: known users with the history and context
/// of the evaluated moment, users the model never saw (cold users, embedded from their history,
/// features and context alone), and items it never saw (cold items, embedded from features),
/// each beside the baseline that shows what the model adds (most popular items; random vectors).
public enum ColdStartEvaluator {
    /// Known users on the validation split (history: training items; context: each user's
    /// first validation interaction; training items masked) or the test split (history and
    /// mask also hold the validation items).
    public static func evaluateWarm(model: TwoTowerModel, data: InteractionData, test: Bool, threads: Int) throws -> RankingMetrics {
        let target = test ? data.test : data.valid
        let history = test ? data.seenSequence : data.sequence
        let mask = test ? data.train.union(data.valid) : data.train
        let context = test ? data.testContext : data.validContext
        let users = try model.userEmbeddings(history: history, context: context.isEmpty ? nil : context)
        return RankingEvaluator.evaluate(users: users, items: try model.itemEmbeddings(), target: target, mask: mask, threads: threads)
    }

    /// Users held out of training: each embedded without an id from its earlier items, its
    /// features and the context of its first later item; the later items are the targets and
    /// the earlier ones are masked.
    public static func evaluateColdUsers(model: TwoTowerModel, data: InteractionData, threads: Int) throws -> RankingMetrics {
        guard let cold = data.coldUsers else { throw TrainerError.emptySplit("cold-user") }
        let users = try model.unseenUserEmbeddings(features: cold.features, history: cold.history, context: data.contextEncoders.isEmpty ? nil : cold.context)
        return RankingEvaluator.evaluate(users: users, items: try model.itemEmbeddings(), target: cold.targets,
                                         mask: matrix(offsets: cold.history.offsets, items: cold.history.items), threads: threads)
    }

    /// The same cold users ranked by training popularity alone (MostPop), history masked.
    public static func mostPopularForColdUsers(data: InteractionData, threads: Int) throws -> RankingMetrics {
        guard let cold = data.coldUsers else { throw TrainerError.emptySplit("cold-user") }
        let counts = data.train.itemFrequencies(itemCount: data.itemCount).map { Float($0) }
        let users = try VectorMatrix(dimension: 1, values: [Float](repeating: 1, count: cold.ids.count))
        return RankingEvaluator.evaluate(users: users, items: try VectorMatrix(dimension: 1, values: counts), target: cold.targets,
                                         mask: matrix(offsets: cold.history.offsets, items: cold.history.items), threads: threads)
    }

    /// How items held out of training fare, embedded from their features alone, for the known
    /// users who went on to them (users embedded as for the test split):
    /// - `amongCold`: the cold items ranked among themselves;
    /// - `inCatalogue`: the cold items added to the whole catalogue, as a new item upserted into
    ///   a served index is: every item ranked, the user's training and validation items masked,
    ///   hits counted on the cold items only;
    /// each beside the same with seeded random unit vectors in place of the cold items'.
    public struct ColdItemMetrics: Sendable {
        public var amongCold: RankingMetrics
        public var amongColdRandom: RankingMetrics
        public var inCatalogue: RankingMetrics
        public var inCatalogueRandom: RankingMetrics
    }

    public static func evaluateColdItems(model: TwoTowerModel, data: InteractionData, threads: Int, seed: UInt64 = 1) throws -> ColdItemMetrics {
        guard let cold = data.coldItems, cold.targets.count > 0 else { throw TrainerError.emptySplit("cold-item") }
        let users = try model.userEmbeddings(history: data.seenSequence, context: data.testContext.isEmpty ? nil : data.testContext)
        let items = try model.unseenItemEmbeddings(features: cold.features)
        guard items.count == cold.ids.count else { throw TrainerError.badFeature("cold items have no features to embed them from") }
        var generator = SeededGenerator(seed: seed)
        let randomItems = try VectorMatrix(dimension: items.dimension, values: (0..<(cold.ids.count * items.dimension)).map { _ in generator.nextGaussian() })
        try randomItems.normalizeRows()
        // The whole catalogue: the known items, then the cold ones (rows itemCount + c).
        let known = try model.itemEmbeddings()
        let shifted = matrix(offsets: cold.targets.offsets, items: cold.targets.columns.map { $0 + Int32(data.itemCount) })
        let mask = data.train.union(data.valid)
        func catalogue(_ coldItems: VectorMatrix) throws -> RankingMetrics {
            let all = try VectorMatrix(dimension: known.dimension, values: known.flatArray() + coldItems.flatArray())
            return RankingEvaluator.evaluate(users: users, items: all, target: shifted, mask: mask, threads: threads)
        }
        return ColdItemMetrics(
            amongCold: RankingEvaluator.evaluate(users: users, items: items, target: cold.targets, mask: nil, threads: threads),
            amongColdRandom: RankingEvaluator.evaluate(users: users, items: randomItems, target: cold.targets, mask: nil, threads: threads),
            inCatalogue: try catalogue(items), inCatalogueRandom: try catalogue(randomItems))
    }

    /// Items grouped by user (user u has `items[offsets[u] ..< offsets[u + 1]]`) as a user × item matrix.
    static func matrix(offsets: [Int], items: [Int32]) -> InteractionMatrix {
        var users: [Int32] = []
        users.reserveCapacity(items.count)
        for u in 0..<(offsets.count - 1) { users.append(contentsOf: repeatElement(Int32(u), count: offsets[u + 1] - offsets[u])) }
        return InteractionMatrix(rowCount: offsets.count - 1, users: users, items: items)
    }
}
