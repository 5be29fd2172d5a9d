import ShortlistData
import ShortlistFeatures
import ShortlistModel

extension TwoTowerModel {
    /// A freshly initialised model for the users, items, side features and context of `data`.
    public convenience init(configuration: TwoTowerConfiguration, data: InteractionData) throws {
        guard !(configuration.userHistory && configuration.historyLength > 0) else {
            throw TrainerError.badConfiguration("--user-history (every training item, per known user) and --history (request-time) exclude each other")
        }
        func attributes(_ fields: [FeatureField], _ encoders: [FeatureEncoder]) -> [ModelField] {
            fields.enumerated().map { k, f in
                ModelField(name: f.name, role: .attribute, vocabularySize: f.vocabularySize, stored: f,
                           encoder: encoders.count == fields.count ? encoders[k] : nil)
            }
        }
        var user = attributes(data.userFeatures, data.userEncoders)
        var item = attributes(data.itemFeatures, data.itemEncoders)
        if configuration.userHistory {
            user.append(ModelField(name: "history", role: .attribute, vocabularySize: data.itemCount,
                                   stored: FeatureField(name: "history", vocabularySize: data.itemCount, offsets: data.train.offsets, indices: data.train.columns),
                                   encoder: nil))
        }
        if configuration.historyLength > 0 {
            user.append(ModelField(name: "history", role: .history, vocabularySize: data.itemCount, stored: nil, encoder: nil))
        }
        for e in data.contextEncoders {
            user.append(ModelField(name: e.name, role: .context, vocabularySize: e.rowCount, stored: nil, encoder: e))
        }
        if configuration.embedsWithoutIds || !data.contextEncoders.isEmpty {
            user.append(.bias())
            item.append(.bias())
        }
        try self.init(configuration: configuration, userIds: data.userIds, itemIds: data.itemIds, userFields: user, itemFields: item)
        seen = data.seenSequence
    }
}
