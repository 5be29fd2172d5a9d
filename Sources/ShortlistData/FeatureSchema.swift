import ShortlistFeatures
import Foundation

/// Which side features a model reads and how: item and user feature files with their columns,
/// and context columns of the interactions themselves. Written as JSON:
///
///     {
///       "items": [{"file": "movies.csv", "id": "movieId",
///                  "columns": [{"name": "genres", "type": "tags", "separator": "|"},
///                              {"name": "title", "type": "text"}]},
///                 {"file": "tags.csv", "id": "movieId", "columns": [{"name": "tag", "type": "tags"}]}],
///       "users": [{"file": "users.jsonl", "id": "user", "columns": [{"name": "age", "type": "numeric"}]}],
///       "context": [{"name": "hour", "type": "hour", "column": "timestamp"},
///                   {"name": "weekday", "type": "weekday", "column": "timestamp"},
///                   {"name": "device", "type": "categorical"}]
///     }
///
/// Files are relative to the schema file's folder. Column members: `name`, `type` (categorical,
/// tags, numeric, text, hour, weekday), `column` (source column, default the name), `separator`
/// (tags in CSV, default `|`), `buckets` (numeric default 10, text 4096), `min_count` (default 1).
/// A source without `columns` has them inferred (`FeatureSchema.infer`), the choice printed.
public struct FeatureSchema: Sendable, Equatable {
    /// One feature file and the columns read from it.
    public struct Source: Sendable, Equatable {
        public var path: String
        public var idColumn: String
        /// Nil: infer from the file.
        public var columns: [FeatureColumn]?

        public init(path: String, idColumn: String, columns: [FeatureColumn]? = nil) {
            self.path = path
            self.idColumn = idColumn
            self.columns = columns
        }
    }

    public var items: [Source] = []
    public var users: [Source] = []
    /// Columns of each interaction: `hour` / `weekday` of its timestamp, or categorical columns
    /// of a csv interaction file.
    public var context: [FeatureColumn] = []

    public init(items: [Source] = [], users: [Source] = [], context: [FeatureColumn] = []) {
        self.items = items
        self.users = users
        self.context = context
    }

    /// Whether the schema declares nothing.
    public var isEmpty: Bool { items.isEmpty && users.isEmpty && context.isEmpty }

    /// Reads a schema file.
    public static func read(path: String) throws -> FeatureSchema {
        guard let data = FileManager.default.contents(atPath: path) else { throw InteractionError.missingFile(path: path, expected: "the schema file") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw InteractionError.badSchema(reason: "\(path) is not JSON: \(error.localizedDescription)")
        }
        let folder = (path as NSString).deletingLastPathComponent
        return try parse(object, folder: folder.isEmpty ? "." : folder, origin: path)
    }

    static func parse(_ object: Any, folder: String, origin: String) throws -> FeatureSchema {
        func bad(_ reason: String) -> InteractionError { .badSchema(reason: "\(origin): \(reason)") }
        guard let top = object as? [String: Any] else { throw bad("the schema is a JSON object") }
        if let extra = Set(top.keys).subtracting(["items", "users", "context"]).sorted().first {
            throw bad("unknown member '\(extra)' (members: items, users, context)")
        }
        func sources(_ key: String) throws -> [Source] {
            guard let raw = top[key] else { return [] }
            guard let list = raw as? [[String: Any]] else { throw bad("'\(key)' is a list of {file, id, columns} objects") }
            return try list.map { s in
                if let extra = Set(s.keys).subtracting(["file", "id", "columns"]).sorted().first {
                    throw bad("\(key): unknown member '\(extra)' (members: file, id, columns)")
                }
                guard let file = s["file"] as? String, let id = s["id"] as? String else { throw bad("\(key): each source needs 'file' and 'id' strings") }
                let path = file.hasPrefix("/") ? file : (folder as NSString).appendingPathComponent(file)
                return Source(path: path, idColumn: id, columns: try s["columns"].map { try columns($0, in: key) })
            }
        }
        func columns(_ raw: Any, in key: String) throws -> [FeatureColumn] {
            guard let list = raw as? [[String: Any]] else { throw bad("\(key): 'columns' is a list of {name, type, …} objects") }
            return try list.map { c in
                if let extra = Set(c.keys).subtracting(["name", "type", "column", "separator", "buckets", "min_count"]).sorted().first {
                    throw bad("\(key): unknown column member '\(extra)' (members: name, type, column, separator, buckets, min_count)")
                }
                guard let name = c["name"] as? String, let typeName = c["type"] as? String else { throw bad("\(key): each column needs 'name' and 'type'") }
                guard let kind = FeatureColumn.Kind(rawValue: typeName) else {
                    throw bad("\(key): column '\(name)' has unknown type '\(typeName)' (types: \(FeatureColumn.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                func integer(_ k: String) throws -> Int? {
                    guard let v = c[k] else { return nil }
                    guard let n = v as? Int else { throw bad("\(key): column '\(name)': '\(k)' is an integer") }
                    return n
                }
                let column = FeatureColumn(name: name, column: c["column"] as? String, kind: kind, separator: (c["separator"] as? String) ?? "|",
                                           buckets: try integer("buckets"), minCount: try integer("min_count") ?? 1)
                try column.validate()
                return column
            }
        }
        var schema = FeatureSchema(items: try sources("items"), users: try sources("users"))
        if let raw = top["context"] { schema.context = try columns(raw, in: "context") }
        for (side, list) in [("items", schema.items.flatMap { $0.columns ?? [] }), ("users", schema.users.flatMap { $0.columns ?? [] }), ("context", schema.context)] {
            var names = Set<String>()
            for c in list where !names.insert(c.name).inserted { throw bad("\(side): two columns are named '\(c.name)'") }
            if side != "context", let c = list.first(where: { $0.kind == .hour || $0.kind == .weekday }) {
                throw bad("\(side): column '\(c.name)': hour and weekday are context types")
            }
        }
        return schema
    }

    /// Chooses a kind for every column of `table` from its values: arrays, or strings holding
    /// `|` in at least a tenth of the rows → tags; all numbers with more than 20 distinct values →
    /// numeric; strings of three or more words on average → text; else categorical.
    public static func infer(_ table: FeatureTable) -> [FeatureColumn] {
        table.columns.map { name in
            var rows = 0, piped = 0, lists = 0, numeric = 0, words = 0
            var distinct = Set<String>()
            for (_, values) in table.rows {
                guard let list = values[name], let v = list.last else { continue }
                rows += 1
                switch v {
                case .list: lists += 1
                case .number: numeric += 1
                case let .text(s):
                    if s.contains("|") { piped += 1 }
                    if v.number != nil { numeric += 1 }
                    words += TextTokens.tokens(Substring(s)).count
                }
                if distinct.count <= 20 { distinct.insert(v.strings.joined(separator: "\u{1f}")) }
            }
            guard rows > 0 else { return FeatureColumn(name: name, kind: .categorical) }
            if lists > 0 || piped * 10 >= rows { return FeatureColumn(name: name, kind: .tags) }
            if numeric == rows { return FeatureColumn(name: name, kind: distinct.count > 20 ? .numeric : .categorical) }
            if Double(words) / Double(rows) >= 3 { return FeatureColumn(name: name, kind: .text) }
            return FeatureColumn(name: name, kind: .categorical)
        }
    }
}
