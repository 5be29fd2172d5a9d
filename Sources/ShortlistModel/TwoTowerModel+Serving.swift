import Foundation
import ShortlistCore
import ShortlistFeatures

/// Embedding one user or item at request time (the server's calls; not concurrent).
extension TwoTowerModel {
    /// The user tower's output for the user with external id `id` (`embeddingDimension` floats):
    /// the query vector for that user's recommendations. Not for concurrent calls.
    public func embedUser(id: UInt64) throws -> [Float] {
        var out = [Float](repeating: 0, count: embeddingDimension)
        try out.withUnsafeMutableBufferPointer { try embedUser(UserQuery(userId: id), into: $0.baseAddress!) }
        return out
    }

    /// The user tower's output for what a request knows (`embeddingDimension` floats written to
    /// `output`). A known `userId` brings its id embedding, stored features and stored history
    /// (unless the query sends its own); everything the query sends wins. Throws `unknownId`
    /// for an id the model does not know when nothing else is sent, and `badFeature` for a
    /// feature or context name the model does not read. Not for concurrent calls; allocates
    /// nothing once its workspaces are warm, beyond encoding string features.
    public func embedUser(_ query: UserQuery, into output: UnsafeMutablePointer<Float>) throws {
        var row: Int?
        if let id = query.userId {
            row = userRowById[id]
            if row == nil && (!embedsUnseenUsers || (query.history.isEmpty && query.features.isEmpty && query.context.isEmpty)) {
                throw TrainerError.unknownId(id)
            }
        }
        for name in query.features.keys where !userFields.contains(where: { $0.role == .attribute && $0.name == name && $0.encoder != nil }) {
            throw TrainerError.badFeature("the model reads no user feature '\(name)'; it reads: \(requestFieldNames.user.joined(separator: ", "))")
        }
        for name in query.context.keys where !contextFields.contains(where: { $0.name == name || $0.encoder?.column.column == name }) {
            throw TrainerError.badFeature("the model reads no context '\(name)'; it reads: \(contextFields.map(\.name).joined(separator: ", "))")
        }
        // Request features and context, encoded into one scratch array: (field, start, end).
        scratch.removeAll(keepingCapacity: true)
        var attributes: [[Int32]?]? = nil
        if !query.features.isEmpty {
            var list = [[Int32]?](repeating: nil, count: userFields.count)
            for (f, field) in userFields.enumerated() where field.role == .attribute {
                if let value = query.features[field.name], let encoder = field.encoder { list[f] = encoder.encode([value]) }
            }
            attributes = list
        }
        var hasContext = false
        for field in contextFields {
            let value = query.context[field.name] ?? field.encoder.flatMap { query.context[$0.column.column] }
            scratch.append(value.map { field.encoder!.singleRow($0) } ?? 0)
            if value != nil { hasContext = true }
        }
        // History: the query's (unknown item ids skipped), else the stored one.
        servingUserBatch.removeAll()
        let context: ArraySlice<Int32>? = hasContext ? scratch[...] : nil
        if !query.history.isEmpty || row == nil {
            historyScratch.removeAll(keepingCapacity: true)
            for id in query.history { if let r = itemRowById[id] { historyScratch.append(r) } }
            appendUser(to: servingUserBatch, id: Int32(row ?? -1), storedRow: row, attributes: attributes, history: historyScratch, context: context)
        } else if let seen, let r = row {
            appendUser(to: servingUserBatch, id: Int32(r), storedRow: r, attributes: attributes, history: seen.items[seen.entries(of: r)], context: context)
        } else {
            appendUser(to: servingUserBatch, id: Int32(row!), storedRow: row, attributes: attributes, history: EmptyCollection<Int32>(), context: context)
        }
        let z = userTower.forward(servingUserBatch)
        output.update(from: z, count: dimension)
        if itemBias != nil { output[dimension] = 1 }
    }

    /// The item tower's output for an item described only by `features` (name → raw value):
    /// how a new item is embedded without retraining. An item bias column is 0. Throws
    /// `badFeature` for a name the model does not read, or when it reads none.
    public func embedItem(features: [String: FeatureValue]) throws -> [Float] {
        guard embedsItemsFromFeatures else { throw TrainerError.badFeature("this model's item tower reads no features; an item needs a vector") }
        for name in features.keys where !itemFields.contains(where: { $0.role == .attribute && $0.name == name && $0.encoder != nil }) {
            throw TrainerError.badFeature("the model reads no item feature '\(name)'; it reads: \(requestFieldNames.item.joined(separator: ", "))")
        }
        var attributes = [[Int32]?](repeating: nil, count: itemFields.count)
        for (f, field) in itemFields.enumerated() where field.role == .attribute {
            if let value = features[field.name], let encoder = field.encoder { attributes[f] = encoder.encode([value]) }
        }
        servingItemBatch.removeAll()
        appendItem(to: servingItemBatch, id: -1, storedRow: nil, attributes: attributes)
        let z = itemTower.forward(servingItemBatch)
        return Array(UnsafeBufferPointer(start: z, count: dimension)) + (itemBias == nil ? [] : [0])
    }

    /// The item rows a known user has seen (training and validation), as external ids; nil
    /// without a stored seen set, empty for an unknown user.
    public func seenItems(ofUser id: UInt64) -> [UInt64]? {
        guard let seen else { return nil }
        guard let row = userRowById[id] else { return [] }
        return seen.items[seen.entries(of: row)].map { itemIds[Int($0)] }
    }

    /// The external ids of item rows, for callers mapping a history.
    public func itemRow(of id: UInt64) -> Int? { itemRowById[id].map(Int.init) }
}
