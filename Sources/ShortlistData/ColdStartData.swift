import ShortlistFeatures
/// Users held out of training entirely (`InteractionSource.coldUserFraction`): what a request
/// for them would carry, and what they went on to do.
public struct ColdUsers: Sendable {
    /// External ids (not in the model's users).
    public var ids: [UInt64]
    /// Each cold user's earlier items (item rows of the model, in time order): the request's history.
    public var history: InteractionSequence
    /// Their later items (rows = cold users, columns = item rows): what a recommendation should find.
    public var targets: InteractionMatrix
    /// The context of each cold user's first target (count × context fields; row 0 when unknown).
    public var context: [Int32]
    /// Their user features, encoded with the data's user encoders (one field per encoder).
    public var features: [FeatureField]
}

/// Items held out of training entirely (`InteractionSource.coldItemFraction`): embedded from
/// their features alone, as an item uploaded after training would be.
public struct ColdItems: Sendable {
    /// External ids (not in the model's items).
    public var ids: [UInt64]
    /// Their item features, encoded with the data's item encoders (one field per encoder).
    public var features: [FeatureField]
    /// Which (warm) users interacted with them (rows = the model's user rows, columns = cold item rows).
    public var targets: InteractionMatrix
}
