import Foundation
import ShortlistCore
import ShortlistData

/// A two-tower retrieval model: a user tower and an item tower (`Tower`), each mapping an id
/// (plus its side features) to a unit vector of `configuration.dimension`; a user's score for
/// an item is their dot product (cosine), so the item embeddings go straight into an `ip` or
/// `cosine` index and the user tower produces the query.
public final class TwoTowerModel: @unchecked Sendable {
    public let configuration: TwoTowerConfiguration
    /// External id of each user row.
    public let userIds: [UInt64]
    /// External id of each item row.
    public let itemIds: [UInt64]
    let userTower: Tower
    let itemTower: Tower
    /// log(1/τ), one value.
    let logScale: ParameterBuffer
    /// Per-item logit bias (items), with `configuration.itemBias`.
    let itemBias: ParameterBuffer?
    private lazy var userRowById: [UInt64: Int] = Dictionary(uniqueKeysWithValues: userIds.enumerated().map { ($1, $0) })

    /// A freshly initialised model for the users, items and side features of `data`.
    public convenience init(configuration: TwoTowerConfiguration, data: InteractionData) throws {
        var userFeatures = data.userFeatures
        if configuration.userHistory {
            userFeatures.append(FeatureField(name: "history", vocabularySize: data.itemCount,
                                             offsets: data.train.offsets, indices: data.train.columns))
        }
        try self.init(configuration: configuration, userIds: data.userIds, itemIds: data.itemIds,
                      userFeatures: userFeatures, itemFeatures: data.itemFeatures)
    }

    init(configuration: TwoTowerConfiguration, userIds: [UInt64], itemIds: [UInt64],
         userFeatures: [FeatureField], itemFeatures: [FeatureField]) throws {
        try configuration.validate()
        guard !userIds.isEmpty, !itemIds.isEmpty else { throw TrainerError.dataMismatch("no users or no items") }
        guard userFeatures.allSatisfy({ $0.entityCount == userIds.count }),
              itemFeatures.allSatisfy({ $0.entityCount == itemIds.count }) else {
            throw TrainerError.dataMismatch("a feature field does not cover every user or item")
        }
        self.configuration = configuration
        self.userIds = userIds
        self.itemIds = itemIds
        var generator = SeededGenerator(seed: configuration.seed)
        let capacity = configuration.batchSize + configuration.uniformNegatives
        userTower = Tower(entityCount: userIds.count, dimension: configuration.dimension, hiddenWidths: configuration.hiddenWidths,
                          fields: userFeatures, batchCapacity: capacity, generator: &generator)
        itemTower = Tower(entityCount: itemIds.count, dimension: configuration.dimension, hiddenWidths: configuration.hiddenWidths,
                          fields: itemFeatures, batchCapacity: capacity, generator: &generator)
        userTower.threads = configuration.threads
        itemTower.threads = configuration.threads
        logScale = ParameterBuffer(count: 1)
        logScale.values[0] = log(1 / configuration.temperature)
        itemBias = configuration.itemBias ? ParameterBuffer(count: itemIds.count) : nil
    }

    /// The current softmax temperature τ.
    public var temperature: Float { exp(-logScale.values[0]) }

    /// Width of the towers' outputs.
    public var dimension: Int { configuration.dimension }

    /// Width of the exported embeddings: the towers' width, plus one column with an item bias.
    public var embeddingDimension: Int { dimension + (itemBias == nil ? 0 : 1) }

    /// How to index the exported item embeddings so an index ranks as the model does: `cosine`
    /// (unit vectors), or `ip` when an item bias column is appended.
    public var scoreMetric: Metric { itemBias == nil ? .cosine : .ip }

    /// Every trainable buffer, in file order.
    var parameterBuffers: [ParameterBuffer] {
        userTower.parameterBuffers + itemTower.parameterBuffers + [logScale] + (itemBias.map { [$0] } ?? [])
    }

    /// Number of trainable floats.
    public var parameterCount: Int { parameterBuffers.reduce(0) { $0 + $1.count } }

    /// Every user's embedding (userIds.count × dimension, unit rows).
    /// With an item bias, each row ends with a 1.
    public func userEmbeddings() throws -> VectorMatrix {
        try VectorMatrix(dimension: embeddingDimension, values: appendColumn(userTower.embedAll(), rows: userIds.count) { _ in 1 })
    }

    /// Every item's embedding (itemIds.count × dimension, unit rows).
    /// With an item bias, each row ends with τ·b, so the dot product with a user's row is
    /// τ · (cos/τ + b): the model's score up to a positive factor.
    public func itemEmbeddings() throws -> VectorMatrix {
        let tau = temperature
        return try VectorMatrix(dimension: embeddingDimension,
                                values: appendColumn(itemTower.embedAll(), rows: itemIds.count) { tau * self.itemBias!.values[$0] })
    }

    private func appendColumn(_ values: [Float], rows: Int, _ column: (Int) -> Float) -> [Float] {
        guard itemBias != nil else { return values }
        var out: [Float] = []
        out.reserveCapacity(rows * (dimension + 1))
        for r in 0..<rows {
            out.append(contentsOf: values[(r * dimension)..<((r + 1) * dimension)])
            out.append(column(r))
        }
        return out
    }

    /// The user tower's output for the user with external id `id` (`embeddingDimension` floats):
    /// the query vector for that user's recommendations. Uses the tower's workspace: not for
    /// concurrent calls.
    public func embedUser(id: UInt64) throws -> [Float] {
        guard let row = userRowById[id] else { throw TrainerError.unknownId(id) }
        return userTower.embed(row: row) + (itemBias == nil ? [] : [1])
    }

    /// The side features the towers read, for describing a model.
    public var featureNames: (user: [String], item: [String]) {
        (userTower.fields.map(\.name), itemTower.fields.map(\.name))
    }
}
