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
        logScale = ParameterBuffer(count: 1)
        logScale.values[0] = log(1 / configuration.temperature)
    }

    /// The current softmax temperature τ.
    public var temperature: Float { exp(-logScale.values[0]) }

    public var dimension: Int { configuration.dimension }

    /// Every trainable buffer, in file order.
    var parameterBuffers: [ParameterBuffer] { userTower.parameterBuffers + itemTower.parameterBuffers + [logScale] }

    /// Number of trainable floats.
    public var parameterCount: Int { parameterBuffers.reduce(0) { $0 + $1.count } }

    /// Every user's embedding (userIds.count × dimension, unit rows).
    public func userEmbeddings() throws -> VectorMatrix {
        try VectorMatrix(dimension: dimension, values: userTower.embedAll())
    }

    /// Every item's embedding (itemIds.count × dimension, unit rows).
    public func itemEmbeddings() throws -> VectorMatrix {
        try VectorMatrix(dimension: dimension, values: itemTower.embedAll())
    }

    /// The user tower's output for the user with external id `id` (dimension floats, unit length):
    /// the query vector for that user's recommendations.
    public func embedUser(id: UInt64) throws -> [Float] {
        guard let row = userRowById[id] else { throw TrainerError.unknownId(id) }
        return userTower.embed(row: row)
    }

    /// The side features the towers read, for describing a model.
    public var featureNames: (user: [String], item: [String]) {
        (userTower.fields.map(\.name), itemTower.fields.map(\.name))
    }
}
