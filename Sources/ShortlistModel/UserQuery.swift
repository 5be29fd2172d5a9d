import Foundation
import ShortlistCore
import ShortlistFeatures

/// What a recommendation request knows about its user. Any combination; at least one.
public struct UserQuery: Sendable, Equatable {
    /// A user id the model may know (its id embedding, stored features and history).
    public var userId: UInt64?
    /// Item ids the user interacted with, oldest first (ids the model does not know are skipped).
    public var history: [UInt64]
    /// User features by name (`TwoTowerModel.requestFieldNames.user`).
    public var features: [String: FeatureValue]
    /// Context by name (`requestFieldNames.context`), or by its source column (`timestamp`).
    public var context: [String: FeatureValue]

    public init(userId: UInt64? = nil, history: [UInt64] = [], features: [String: FeatureValue] = [:], context: [String: FeatureValue] = [:]) {
        self.userId = userId
        self.history = history
        self.features = features
        self.context = context
    }
}
