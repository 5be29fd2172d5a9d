import Foundation
import ShortlistCore
import ShortlistFeatures

/// A two-tower retrieval model: a user tower and an item tower (`Tower`), each mapping what is
/// known about a user or an item to a unit vector of `configuration.dimension`; a user's score
/// for an item is their dot product (cosine), so the item embeddings go straight into an `ip` or
/// `cosine` index and the user tower produces the query.
///
/// What each tower reads is a list of fields (`ModelField`): the entity's id embedding
/// (optional for users), attributes (stored for known entities, or sent with a request), and
/// for users the recent history and the request's context. A user or item the model never saw
/// is embedded from those alone (`embedUser(_:)`, `embedItem(features:)`).
public final class TwoTowerModel: @unchecked Sendable {
    public let configuration: TwoTowerConfiguration
    /// External id of each user row.
    public let userIds: [UInt64]
    /// External id of each item row.
    public let itemIds: [UInt64]
    package let userFields: [ModelField]
    package let itemFields: [ModelField]
    /// The user fields with the context role, in field order (one context row each).
    package let contextFields: [ModelField]
    package let userTower: Tower
    package let itemTower: Tower
    /// log(1/τ), one value.
    package let logScale: ParameterBuffer
    /// Per-item logit bias (items), with `configuration.itemBias`.
    package let itemBias: ParameterBuffer?
    /// Each known user's items, training then validation, in time order: their history when a
    /// request names only the user, and what `exclude_seen` leaves out. Nil for models that
    /// were written without it.
    public package(set) var seen: InteractionSequence?
    lazy var userRowById: [UInt64: Int] = Dictionary(uniqueKeysWithValues: userIds.enumerated().map { ($1, $0) })
    lazy var itemRowById: [UInt64: Int32] = Dictionary(uniqueKeysWithValues: itemIds.enumerated().map { ($1, Int32($0)) })
    /// Starts the id embeddings from other factors (e.g. `train --model als`): each user or item
    /// whose id is in `userIds` / `itemIds` gets its row of `users` / `items` (count × dimension,
    /// row-major, the model's width), rescaled to the length of a fresh row (0.1·√dimension) so
    /// only its direction carries over. Returns how many users and items were set.
    @discardableResult
    public func warmStart(users: VectorMatrix, userIds: [UInt64], items: VectorMatrix, itemIds: [UInt64]) throws -> (users: Int, items: Int) {
        let d = configuration.dimension
        guard users.dimension == d, items.dimension == d, users.count == userIds.count, items.count == itemIds.count else {
            throw TrainerError.dataMismatch("warm start: factors of width \(users.dimension) / \(items.dimension) for a \(d)-wide model (train with --dim \(users.dimension))")
        }
        let target = 0.1 * Float(d).squareRoot()
        func copy(_ source: VectorMatrix, _ ids: [UInt64], into table: EmbeddingTable, rowOf: (UInt64) -> Int?) -> Int {
            var set = 0
            for (k, id) in ids.enumerated() {
                guard let row = rowOf(id) else { continue }
                let from = source.row(k)
                var norm: Float = 0
                for j in 0..<d { norm += from[j] * from[j] }
                guard norm > 0, norm.isFinite else { continue }
                let scale = target / norm.squareRoot(), to = table.row(row)
                for j in 0..<d { to[j] = from[j] * scale }
                set += 1
            }
            return set
        }
        let u = copy(users, userIds, into: userTower.idTable) { self.userRowById[$0] }
        let i = copy(items, itemIds, into: itemTower.idTable, rowOf: itemRow(of:))
        return (u, i)
    }

    /// Workspaces of the serving calls (which are not concurrent).
    let servingUserBatch: TowerBatch
    let servingItemBatch: TowerBatch
    var scratch: [Int32] = []
    var historyScratch: [Int32] = []

    /// A freshly initialised model. `userFields` / `itemFields` are each tower's inputs in order
    /// (stored fields cover every user / item); `ShortlistTrainer` builds them from the data.
    package init(configuration: TwoTowerConfiguration, userIds: [UInt64], itemIds: [UInt64],
         userFields: [ModelField], itemFields: [ModelField]) throws {
        try configuration.validate()
        guard !userIds.isEmpty, !itemIds.isEmpty else { throw TrainerError.dataMismatch("no users or no items") }
        guard userFields.allSatisfy({ $0.stored.map { $0.entityCount == userIds.count } ?? true }),
              itemFields.allSatisfy({ $0.stored.map { $0.entityCount == itemIds.count } ?? true }) else {
            throw TrainerError.dataMismatch("a feature field does not cover every user or item")
        }
        for fields in [userFields, itemFields] {
            var names = Set<String>()
            for f in fields where f.role != .bias {
                guard names.insert(f.name).inserted else { throw TrainerError.dataMismatch("two fields of a tower are named '\(f.name)'") }
            }
        }
        self.configuration = configuration
        self.userIds = userIds
        self.itemIds = itemIds
        self.userFields = userFields
        self.itemFields = itemFields
        contextFields = userFields.filter { $0.role == .context }
        var generator = SeededGenerator(seed: configuration.seed)
        let capacity = configuration.batchSize + configuration.uniformNegatives
        userTower = Tower(entityCount: userIds.count, dimension: configuration.dimension, hiddenWidths: configuration.hiddenWidths,
                          fieldSizes: userFields.map(\.vocabularySize), batchCapacity: capacity, generator: &generator)
        itemTower = Tower(entityCount: itemIds.count, dimension: configuration.dimension, hiddenWidths: configuration.hiddenWidths,
                          fieldSizes: itemFields.map(\.vocabularySize), batchCapacity: capacity, generator: &generator)
        // Row 0 of an encoded field is "missing or never seen": it starts at zero, so until
        // training teaches it something it adds nothing.
        for (fields, tower) in [(userFields, userTower), (itemFields, itemTower)] {
            for (f, field) in fields.enumerated() where field.encoder != nil {
                tower.fieldTables[f].row(0).update(repeating: 0, count: configuration.dimension)
            }
        }
        userTower.threads = configuration.threads
        itemTower.threads = configuration.threads
        logScale = ParameterBuffer(count: 1)
        logScale.values[0] = log(1 / configuration.temperature)
        itemBias = configuration.itemBias ? ParameterBuffer(count: itemIds.count) : nil
        servingUserBatch = TowerBatch(fieldCount: userFields.count)
        servingItemBatch = TowerBatch(fieldCount: itemFields.count)
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
    package var parameterBuffers: [ParameterBuffer] {
        userTower.parameterBuffers + itemTower.parameterBuffers + [logScale] + (itemBias.map { [$0] } ?? [])
    }

    /// Number of trainable floats.
    public var parameterCount: Int { parameterBuffers.reduce(0) { $0 + $1.count } }

    /// The side features the towers read, for describing a model: "name (role)".
    public var featureNames: (user: [String], item: [String]) {
        func describe(_ fields: [ModelField]) -> [String] {
            fields.filter { $0.role != .bias }.map { $0.role == .attribute || $0.name == $0.role.name ? $0.name : "\($0.name) (\($0.role.name))" }
        }
        return (describe(userFields), describe(itemFields))
    }

    /// Whether the user tower can embed a user it never saw (a history, features or context
    /// field, or no id embedding at all).
    public var embedsUnseenUsers: Bool { userFields.contains { $0.role == .history || $0.role == .context || $0.encoder != nil } || !configuration.userIdEmbedding }

    /// Whether the item tower can embed an item from features sent with it.
    public var embedsItemsFromFeatures: Bool { itemFields.contains { $0.encoder != nil } }

    /// The names a request's `features` may carry (user side) and an item's (item side), and the context names.
    public var requestFieldNames: (user: [String], item: [String], context: [String]) {
        (userFields.filter { $0.role == .attribute && $0.encoder != nil }.map(\.name),
         itemFields.filter { $0.role == .attribute && $0.encoder != nil }.map(\.name),
         contextFields.map(\.name))
    }

    // MARK: filling tower batches

    /// Appends one user to `batch`: the id row (−1: none), then each field's bag: attributes
    /// from `attributes` (one entry per user field; nil entries fall back to the stored row
    /// `storedRow`, else nothing), history from `history` (item rows, oldest first), context
    /// rows from `context` (one per context field, in field order; nil: nothing).
    package func appendUser<H: BidirectionalCollection, C: RandomAccessCollection>(
        to batch: TowerBatch, id: Int32, storedRow: Int?, attributes: [[Int32]?]? = nil, history: H, context: C?
    ) where H.Element == Int32, C.Element == Int32, C.Index == Int {
        batch.beginRow(id: configuration.userIdEmbedding ? id : -1)
        var c = 0
        for (f, field) in userFields.enumerated() {
            switch field.role {
            case .attribute:
                addAttribute(f, field, to: batch, sent: attributes?[f], storedRow: storedRow)
            case .history:
                batch.addRecent(f, history, length: configuration.historyLength, decay: configuration.historyDecay)
            case .context:
                if let context { batch.addSingle(f, context[context.startIndex + c]) } else { batch.addMean(f, EmptyCollection<Int32>()) }
                c += 1
            case .bias:
                batch.addSingle(f, 0)
            }
        }
    }

    /// Appends one item to `batch`: id row (−1: none), attributes from `attributes` (nil: the
    /// stored row `storedRow`), bias.
    package func appendItem(to batch: TowerBatch, id: Int32, storedRow: Int?, attributes: [[Int32]?]? = nil) {
        batch.beginRow(id: id)
        for (f, field) in itemFields.enumerated() {
            switch field.role {
            case .attribute: addAttribute(f, field, to: batch, sent: attributes?[f], storedRow: storedRow)
            case .bias: batch.addSingle(f, 0)
            case .history, .context: batch.addMean(f, EmptyCollection<Int32>())
            }
        }
    }

    /// An attribute's bag: the rows a request sent, else the stored rows of a known entity, else none.
    func addAttribute(_ f: Int, _ field: ModelField, to batch: TowerBatch, sent: [Int32]?, storedRow: Int?) {
        if let sent { batch.addMean(f, sent) }
        else if let stored = field.stored, let row = storedRow { batch.addMean(f, stored.indices(of: row)) }
        else { batch.addMean(f, EmptyCollection<Int32>()) }
    }

    /// Runs `tower` over `count` rows that `fill(batch, row)` appends, in blocks; returns the
    /// unit outputs (count × dimension, row-major).
    func embedMany(_ tower: Tower, fieldCount: Int, count: Int, block: Int = 8192, _ fill: (TowerBatch, Int) -> Void) -> [Float] {
        var all = [Float](repeating: 0, count: count * dimension)
        let batch = TowerBatch(fieldCount: fieldCount)
        var start = 0
        while start < count {
            let end = min(count, start + block)
            batch.removeAll()
            for r in start..<end { fill(batch, r) }
            let z = tower.forward(batch)
            all.withUnsafeMutableBufferPointer { out in
                (out.baseAddress! + start * dimension).update(from: z, count: (end - start) * dimension)
            }
            start = end
        }
        return all
    }

    // MARK: embeddings of many

    /// Every known user's embedding (userIds.count × embeddingDimension, unit rows; with an
    /// item bias each row ends with a 1): id, stored features, the latest items of `seen`, no context.
    public func userEmbeddings() throws -> VectorMatrix {
        try userEmbeddings(history: seen ?? InteractionSequence(offsets: [Int](repeating: 0, count: userIds.count + 1), items: [], contextWidth: 0, context: []),
                           context: nil)
    }

    /// Every known user's embedding as a request at a given moment would make it: `history`
    /// (one row per user), and `context` (users × context fields, nil: none).
    public func userEmbeddings(history: InteractionSequence, context: [Int32]?) throws -> VectorMatrix {
        precondition(history.rowCount == userIds.count)
        let width = contextFields.count
        let values = embedMany(userTower, fieldCount: userFields.count, count: userIds.count) { batch, u in
            appendUser(to: batch, id: Int32(u), storedRow: u, history: history.items[history.entries(of: u)],
                       context: context.map { $0[(u * width)..<((u + 1) * width)] })
        }
        return try VectorMatrix(dimension: embeddingDimension, values: appendColumn(values, rows: userIds.count) { _ in 1 })
    }

    /// Embeddings of users the model never saw (cold users): no id; `features` one field per
    /// attribute encoder (`InteractionData.userEncoders` order), `history` and `context` as above.
    public func unseenUserEmbeddings(features: [FeatureField], history: InteractionSequence, context: [Int32]?) throws -> VectorMatrix {
        let count = history.rowCount
        let attributeSlots = userFields.enumerated().filter { $0.element.role == .attribute && $0.element.encoder != nil }.map(\.offset)
        let width = contextFields.count
        let values = embedMany(userTower, fieldCount: userFields.count, count: count) { batch, u in
            var attributes = [[Int32]?](repeating: nil, count: userFields.count)
            for (k, slot) in attributeSlots.enumerated() where k < features.count { attributes[slot] = Array(features[k].indices(of: u)) }
            appendUser(to: batch, id: -1, storedRow: nil, attributes: attributes, history: history.items[history.entries(of: u)],
                       context: context.map { $0[(u * width)..<((u + 1) * width)] })
        }
        return try VectorMatrix(dimension: embeddingDimension, values: appendColumn(values, rows: count) { _ in 1 })
    }

    /// Every item's embedding (itemIds.count × embeddingDimension, unit rows).
    /// With an item bias, each row ends with τ·b, so the dot product with a user's row is
    /// τ · (cos/τ + b): the model's score up to a positive factor.
    public func itemEmbeddings() throws -> VectorMatrix {
        let values = embedMany(itemTower, fieldCount: itemFields.count, count: itemIds.count) { batch, i in
            appendItem(to: batch, id: Int32(i), storedRow: i)
        }
        let tau = temperature
        return try VectorMatrix(dimension: embeddingDimension, values: appendColumn(values, rows: itemIds.count) { tau * self.itemBias!.values[$0] })
    }

    /// Embeddings of items the model never saw, from their features alone (`features`: one
    /// field per item encoder, `InteractionData.itemEncoders` order); an item bias column is 0.
    public func unseenItemEmbeddings(features: [FeatureField]) throws -> VectorMatrix {
        let count = features.first?.entityCount ?? 0
        let slots = itemFields.enumerated().filter { $0.element.role == .attribute && $0.element.encoder != nil }.map(\.offset)
        let values = embedMany(itemTower, fieldCount: itemFields.count, count: count) { batch, i in
            var attributes = [[Int32]?](repeating: nil, count: itemFields.count)
            for (k, slot) in slots.enumerated() where k < features.count { attributes[slot] = Array(features[k].indices(of: i)) }
            appendItem(to: batch, id: -1, storedRow: nil, attributes: attributes)
        }
        return try VectorMatrix(dimension: embeddingDimension, values: appendColumn(values, rows: count) { _ in 0 })
    }

    func appendColumn(_ values: [Float], rows: Int, _ column: (Int) -> Float) -> [Float] {
        guard itemBias != nil else { return values }
        var out: [Float] = []
        out.reserveCapacity(rows * (dimension + 1))
        for r in 0..<rows {
            out.append(contentsOf: values[(r * dimension)..<((r + 1) * dimension)])
            out.append(column(r))
        }
        return out
    }
}
