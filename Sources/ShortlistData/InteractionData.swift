import Foundation
import ShortlistCore
import ShortlistFeatures

/// Implicit-feedback interactions split into train / valid / test, with the external ids of
/// user and item rows, the side features and context the data carries (encoded by its schema),
/// and optionally users and items held out of training for cold-start evaluation.
public struct InteractionData: Sendable {
    /// External id of each user row.
    public var userIds: [UInt64]
    /// External id of each item row.
    public var itemIds: [UInt64]
    /// Training interactions (users × items).
    public var train: InteractionMatrix
    /// Validation interactions (may be empty).
    public var valid: InteractionMatrix
    /// Test interactions (may be empty).
    public var test: InteractionMatrix
    /// The training interactions of each user in time order (the split's order without
    /// timestamps), with each one's context rows.
    public var sequence: InteractionSequence
    /// Each user's training then validation items, in time order (the split's order without
    /// timestamps): the history of a request at test time, and what the user has seen.
    public var seenSequence: InteractionSequence
    /// Side features per user row (age group, gender, occupation …), possibly none.
    public var userFeatures: [FeatureField] = []
    /// Side features per item row (genres, title tokens …), possibly none.
    public var itemFeatures: [FeatureField] = []
    /// The encoders of `userFeatures` / `itemFeatures` (same order), when they came from a
    /// schema; empty for fields built directly. A model keeps them to encode request features.
    public var userEncoders: [FeatureEncoder] = []
    public var itemEncoders: [FeatureEncoder] = []
    /// Context columns of each interaction (hour, weekday, device …), encoded in `sequence`.
    public var contextEncoders: [FeatureEncoder] = []
    /// The context of each user's first validation / test interaction (users × context fields,
    /// row 0 when unknown): what a request at that moment would carry.
    public var validContext: [Int32] = []
    public var testContext: [Int32] = []
    /// Title of each item row when the data names them (else empty).
    public var itemTitles: [String] = []
    /// Users held out of training entirely, when asked for.
    public var coldUsers: ColdUsers?
    /// Items held out of training entirely, when asked for.
    public var coldItems: ColdItems?
    /// What reading decided on its own (inferred column kinds …), one line each, for logs.
    public var notes: [String] = []

    public init(userIds: [UInt64], itemIds: [UInt64], train: InteractionMatrix,
                valid: InteractionMatrix, test: InteractionMatrix) {
        self.userIds = userIds
        self.itemIds = itemIds
        self.train = train
        self.valid = valid
        self.test = test
        sequence = InteractionSequence(train)
        seenSequence = sequence.appending(valid)
    }

    public var userCount: Int { userIds.count }
    public var itemCount: Int { itemIds.count }

    /// One line describing the sizes, for logs.
    public var summary: String {
        var s = "\(userCount) users, \(itemCount) items, interactions train \(train.count) / valid \(valid.count) / test \(test.count)"
        let features = (userFeatures.map { "user \($0.name)" } + itemFeatures.map { "item \($0.name)" } + contextEncoders.map { "context \($0.name)" })
        if !features.isEmpty { s += "; features: " + features.joined(separator: ", ") }
        if let c = coldUsers { s += "; \(c.ids.count) cold users held out" }
        if let c = coldItems { s += "; \(c.ids.count) cold items held out" }
        return s
    }

    /// Reads and splits the interactions `source` names, with its schema's features.
    public static func read(_ source: InteractionSource) throws -> InteractionData {
        guard (0..<1).contains(source.validFraction), (0..<1).contains(source.testFraction),
              source.validFraction + source.testFraction < 1 else {
            throw InteractionError.badSplit(reason: "valid \(source.validFraction) + test \(source.testFraction) must be in [0, 1)")
        }
        guard (0..<1).contains(source.coldUserFraction), (0..<1).contains(source.coldItemFraction) else {
            throw InteractionError.badSplit(reason: "cold user and cold item fractions must be in [0, 1)")
        }
        guard source.textBuckets >= 1 && source.textBuckets <= 1 << 20 else {
            throw InteractionError.badSplit(reason: "text buckets must be in 1...1048576")
        }
        let schema = try source.schemaPath.map { try FeatureSchema.read(path: $0) } ?? FeatureSchema()
        var tables = SideTables()
        let contextColumns = schema.context.filter { $0.kind != .hour && $0.kind != .weekday }.map(\.column)
        var data: InteractionData
        switch source.format {
        case .lightgcn, .pairs:
            var isDirectory: ObjCBool = false
            if source.format == .lightgcn || (FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory) && isDirectory.boolValue) {
                guard source.coldUserFraction == 0, source.coldItemFraction == 0 else {
                    throw InteractionError.badSplit(reason: "data split into files already cannot hold out cold users or items; give one file")
                }
                guard schema.context.isEmpty else { throw InteractionError.badSchema(reason: "context columns need one interaction file with timestamps (csv or movielens)") }
                data = try readSplitFiles(source, adjacency: source.format == .lightgcn)
            } else {
                guard schema.context.isEmpty else { throw InteractionError.badSchema(reason: "context columns need an interaction file with timestamps (csv or movielens)") }
                data = try InteractionSplitter(source: source, schema: schema, hasTime: false, identityIds: source.coldUserFraction == 0 && source.coldItemFraction == 0)
                    .split(try InteractionEvents.readPairsFile(source.path))
            }
        case .movielens:
            guard contextColumns.isEmpty else {
                throw InteractionError.badSchema(reason: "MovieLens ratings have no column '\(contextColumns[0])'; their context is hour and weekday of the timestamp")
            }
            let contents = try MovieLensFiles.read(source)
            tables.items = contents.items
            tables.users = contents.users
            tables.itemColumns = contents.itemColumns
            tables.userColumns = contents.userColumns
            data = try InteractionSplitter(source: source, schema: schema, hasTime: true, identityIds: false).split(contents.events)
            data.itemTitles = contents.titles.isEmpty ? [] : data.itemIds.map { contents.titles[$0] ?? "" }
        case .csv:
            if source.timeColumn == nil, let c = schema.context.first(where: { $0.kind == .hour || $0.kind == .weekday }) {
                throw InteractionError.badSchema(reason: "context column '\(c.name)' needs --time-column")
            }
            data = try InteractionSplitter(source: source, schema: schema, hasTime: source.timeColumn != nil, identityIds: false)
                .split(try InteractionEvents.readCSV(source, contextColumns: contextColumns))
        }
        guard data.train.count > 0 else { throw InteractionError.empty(path: source.path, reason: "the training split is empty") }
        // A schema's item / user sources replace the layout's own.
        if !schema.items.isEmpty { (tables.items, tables.itemColumns) = try SideTables.read(schema.items, notes: &data.notes, side: "item") }
        if !schema.users.isEmpty { (tables.users, tables.userColumns) = try SideTables.read(schema.users, notes: &data.notes, side: "user") }
        try tables.encode(into: &data)
        return data
    }

    private static func readSplitFiles(_ source: InteractionSource, adjacency: Bool) throws -> InteractionData {
        let dir = source.path
        guard TextInput.existing((dir as NSString).appendingPathComponent("train.txt")) != nil else {
            throw InteractionError.missingFile(path: dir, expected: "train.txt (or train.txt.gz)")
        }
        var splits: [[(UInt64, UInt64)]] = []
        var maxUser: UInt64 = 0, maxItem: UInt64 = 0
        for name in ["train.txt", "valid.txt", "test.txt"] {
            var pairs: [(UInt64, UInt64)] = []
            if let path = TextInput.existing((dir as NSString).appendingPathComponent(name)) {
                let events = adjacency ? try InteractionEvents.readAdjacencyFile(path) : try InteractionEvents.readPairsFile(path)
                pairs = events.map { ($0.user, $0.item) }
            }
            for (u, i) in pairs { maxUser = max(maxUser, u); maxItem = max(maxItem, i) }
            splits.append(pairs)
        }
        guard maxUser < 1 << 31, maxItem < 1 << 31 else {
            throw InteractionError.badLine(path: dir, line: 0, reason: "ids of this layout are rows and must be below 2^31")
        }
        let userCount = Int(maxUser) + 1, itemCount = Int(maxItem) + 1
        let matrices = splits.map { pairs in
            InteractionMatrix(rowCount: userCount, users: pairs.map { Int32($0.0) }, items: pairs.map { Int32($0.1) })
        }
        return InteractionData(userIds: (0..<UInt64(userCount)).map { $0 }, itemIds: (0..<UInt64(itemCount)).map { $0 },
                               train: matrices[0], valid: matrices[1], test: matrices[2])
    }
}
