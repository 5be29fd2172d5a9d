import ShortlistFeatures
/// Raw user and item feature tables with their columns, before encoding.
struct SideTables {
    var items = FeatureTable()
    var users = FeatureTable()
    var itemColumns: [FeatureColumn] = []
    var userColumns: [FeatureColumn] = []

    /// Reads a schema's sources of one side into one table, inferring the columns of a source
    /// that declares none (noted in `notes`).
    static func read(_ sources: [FeatureSchema.Source], notes: inout [String], side: String) throws -> (FeatureTable, [FeatureColumn]) {
        var table = FeatureTable(), columns: [FeatureColumn] = []
        for source in sources {
            let wanted = source.columns.map { Set($0.map(\.column)) }
            let part = try FeatureTable.read(path: source.path, idColumn: source.idColumn, columns: wanted)
            var declared = source.columns ?? FeatureSchema.infer(part)
            if source.columns == nil {
                notes.append("\(side) features of \(source.path): " + declared.map { "\($0.name) \($0.kind.rawValue)" }.joined(separator: ", ") + " (inferred; declare them in a schema to choose)")
            }
            // A column's values are read under its source name and encoded under its own.
            var renamed = FeatureTable()
            for (id, values) in part.rows {
                for c in declared { if let v = values[c.column] { for x in v { renamed.add(x, column: c.name, id: id) } } }
            }
            for i in declared.indices { declared[i].column = declared[i].name }
            for c in declared {
                if let existing = columns.first(where: { $0.name == c.name }) {
                    guard existing.kind == c.kind else { throw InteractionError.badSchema(reason: "\(side) column '\(c.name)' is declared twice with different types") }
                } else {
                    columns.append(c)
                }
            }
            table.merge(renamed)
        }
        return (table, columns)
    }

    /// Fits each column on the model's users / items and encodes them, and the cold ones.
    func encode(into data: inout InteractionData) throws {
        guard !itemColumns.isEmpty || !userColumns.isEmpty else { return }
        (data.itemEncoders, data.itemFeatures) = try Self.fit(itemColumns, table: items, ids: data.itemIds)
        (data.userEncoders, data.userFeatures) = try Self.fit(userColumns, table: users, ids: data.userIds)
        if let cold = data.coldItems { data.coldItems!.features = Self.fields(data.itemEncoders, table: items, ids: cold.ids) }
        if let cold = data.coldUsers { data.coldUsers!.features = Self.fields(data.userEncoders, table: users, ids: cold.ids) }
    }

    private static func fit(_ columns: [FeatureColumn], table: FeatureTable, ids: [UInt64]) throws -> ([FeatureEncoder], [FeatureField]) {
        let encoders = try columns.map { c in try FeatureEncoder.fit(c, values: ids.map { table.values(c.name, of: $0) }) }
        return (encoders, fields(encoders, table: table, ids: ids))
    }

    /// One field per encoder over `ids`.
    static func fields(_ encoders: [FeatureEncoder], table: FeatureTable, ids: [UInt64]) -> [FeatureField] {
        encoders.map { encoder in
            var offsets = [0], indices: [Int32] = []
            for id in ids {
                encoder.encode(table.values(encoder.name, of: id), into: &indices)
                offsets.append(indices.count)
            }
            return FeatureField(name: encoder.name, vocabularySize: encoder.rowCount, offsets: offsets, indices: indices)
        }
    }
}
