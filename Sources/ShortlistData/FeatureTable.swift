import Foundation
import ShortlistCore
import ShortlistFeatures

/// Raw feature values of users or items by external id, as read from feature files: for each id
/// and column, every value the file gives (a file may hold several rows per id, as
/// MovieLens' `tags.csv` does; `FeatureEncoder` merges them by kind).
public struct FeatureTable: Sendable {
    /// Values by id, then column name.
    public var rows: [UInt64: [String: [FeatureValue]]] = [:]
    /// Column names in file order (the id column left out).
    public var columns: [String] = []

    public init() {}

    /// Adds `value` to `column` of `id`.
    public mutating func add(_ value: FeatureValue, column: String, id: UInt64) {
        if !columns.contains(column) { columns.append(column) }
        rows[id, default: [:]][column, default: []].append(value)
    }

    /// Adds every row of `other` (values of the same id and column accumulate).
    public mutating func merge(_ other: FeatureTable) {
        for c in other.columns where !columns.contains(c) { columns.append(c) }
        for (id, values) in other.rows {
            for (column, list) in values { rows[id, default: [:]][column, default: []].append(contentsOf: list) }
        }
    }

    /// The values of `column` of `id` (empty when absent).
    public func values(_ column: String, of id: UInt64) -> [FeatureValue] { rows[id]?[column] ?? [] }

    /// Reads a feature file: `.jsonl` (one object per line, the id member named `idColumn`,
    /// values strings, numbers, booleans or arrays of strings), or a delimited file with a header
    /// (comma, tab or semicolon; quoted CSV fields). Only `columns` are kept when given. Empty
    /// cells are missing values.
    public static func read(path: String, idColumn: String, columns wanted: Set<String>? = nil) throws -> FeatureTable {
        guard FileManager.default.fileExists(atPath: path) else { throw InteractionError.missingFile(path: path, expected: "the feature file") }
        let file = try TextInput.open(path)
        return path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson")
            ? try readJSONLines(file, idColumn: idColumn, wanted: wanted)
            : try readDelimited(file, idColumn: idColumn, wanted: wanted)
    }

    private static func readDelimited(_ file: MappedFile, idColumn: String, wanted: Set<String>?) throws -> FeatureTable {
        var table = FeatureTable()
        var header: [String] = []
        var separator = ","
        var idIndex = 0
        try TextTable.forEachRawLine(file) { lineNumber, line in
            if header.isEmpty {
                separator = TextTable.delimiter(ofHeader: line)
                header = TextTable.split(line, separator: separator, quoted: true).map { String($0.trimmingSpaces) }
                guard let i = header.firstIndex(of: idColumn) else {
                    throw InteractionError.missingColumn(path: file.path, column: idColumn, header: header)
                }
                idIndex = i
                if let wanted, let missing = wanted.sorted().first(where: { !header.contains($0) }) {
                    throw InteractionError.missingColumn(path: file.path, column: missing, header: header)
                }
                for (c, name) in header.enumerated() where c != idIndex && (wanted?.contains(name) ?? true) { table.columns.append(name) }
                return
            }
            let fields = TextTable.split(line, separator: separator, quoted: true)
            guard fields.count == header.count else {
                throw InteractionError.badLine(path: file.path, line: lineNumber, reason: "\(fields.count) fields; the header has \(header.count)")
            }
            let id = try TextTable.id(fields[idIndex], path: file.path, line: lineNumber, what: idColumn)
            for (c, field) in fields.enumerated() where c != idIndex && (wanted?.contains(header[c]) ?? true) {
                let text = field.trimmingSpaces
                if text.isEmpty { continue }
                table.rows[id, default: [:]][header[c], default: []].append(.text(String(text)))
            }
        }
        guard !header.isEmpty else { throw InteractionError.empty(path: file.path, reason: "no header line") }
        return table
    }

    private static func readJSONLines(_ file: MappedFile, idColumn: String, wanted: Set<String>?) throws -> FeatureTable {
        var table = FeatureTable()
        var lineNumber = 0
        try forEachLine(file.bytes) { raw in
            lineNumber += 1
            var s = JSONScanner(raw.bindMemory(to: UInt8.self))
            if s.isAtEnd() { return }
            func bad(_ reason: String) -> InteractionError { .badLine(path: file.path, line: lineNumber, reason: reason) }
            var id: UInt64?
            var values: [(String, FeatureValue)] = []
            do {
                try s.readObject { s, key in
                    if key == idColumn {
                        guard id == nil else { throw bad("member \"\(key)\" appears twice") }
                        id = try s.readUInt64()
                        return
                    }
                    guard wanted?.contains(key) ?? true else { return try s.skipValue() }
                    if let value = try FeatureValue.read(&s, bad: bad) { values.append((key, value)) }
                }
                guard s.isAtEnd() else { throw bad("text after the object") }
            } catch let e as JSONError {
                throw bad(e.description)
            }
            guard let id else { throw bad("missing \"\(idColumn)\"") }
            for (key, value) in values { table.add(value, column: key, id: id) }
        }
        return table
    }
}
