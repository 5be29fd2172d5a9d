import Foundation
import ShortlistCore

/// One interaction before ids become rows: who, what, when (0 without timestamps), and the raw
/// values of the schema's non-time context columns (csv interaction files only).
struct InteractionEvent {
    var user: UInt64
    var item: UInt64
    var time: Double
    var context: [String] = []
}

/// Readers of the interaction layouts that are turned into events and then split.
enum InteractionEvents {
    static func readAdjacencyFile(_ path: String) throws -> [InteractionEvent] {
        var events: [InteractionEvent] = []
        try TextTable.forEachRow(try TextInput.open(path), separator: nil) { line, fields in
            let user = try TextTable.id(fields[0], path: path, line: line, what: "user")
            for f in fields.dropFirst() {
                events.append(InteractionEvent(user: user, item: try TextTable.id(f, path: path, line: line, what: "item"), time: 0))
            }
        }
        return events
    }

    static func readPairsFile(_ path: String) throws -> [InteractionEvent] {
        var events: [InteractionEvent] = []
        try TextTable.forEachRow(try TextInput.open(path), separator: nil) { line, fields in
            guard fields.count == 2 || fields.count == 3 else {
                throw InteractionError.badLine(path: path, line: line, reason: "expected 'user item [weight]', found \(fields.count) fields")
            }
            let user = try TextTable.id(fields[0], path: path, line: line, what: "user")
            let item = try TextTable.id(fields[1], path: path, line: line, what: "item")
            if fields.count == 3, try TextTable.number(fields[2], path: path, line: line, what: "weight") <= 0 { return }
            events.append(InteractionEvent(user: user, item: item, time: 0))
        }
        return events
    }

    /// A delimited file with a header; `contextColumns` are read as raw strings per event.
    static func readCSV(_ source: InteractionSource, contextColumns: [String]) throws -> [InteractionEvent] {
        let path = source.path
        let file = try TextInput.open(path)
        var events: [InteractionEvent] = []
        var columns: (user: Int, item: Int, rating: Int?, time: Int?, context: [Int])?
        var separator = ","
        try TextTable.forEachRawLine(file) { lineNumber, line in
            guard let c = columns else {
                separator = TextTable.delimiter(ofHeader: line)
                let header = TextTable.split(line, separator: separator, quoted: true).map { String($0.trimmingSpaces) }
                func column(_ name: String) throws -> Int {
                    guard let c = header.firstIndex(of: name) else {
                        throw InteractionError.missingColumn(path: path, column: name, header: header)
                    }
                    return c
                }
                columns = (try column(source.userColumn), try column(source.itemColumn),
                           try source.ratingColumn.map(column), try source.timeColumn.map(column), try contextColumns.map(column))
                return
            }
            let fields = TextTable.split(line, separator: separator, quoted: true)
            let needed = max(c.user, c.item, c.rating ?? 0, c.time ?? 0, c.context.max() ?? 0)
            guard fields.count > needed else {
                throw InteractionError.badLine(path: path, line: lineNumber, reason: "\(fields.count) fields, the header names more")
            }
            if let r = c.rating, try TextTable.number(fields[r], path: path, line: lineNumber, what: "rating") < source.minRating { return }
            events.append(InteractionEvent(
                user: try TextTable.id(fields[c.user], path: path, line: lineNumber, what: "user"),
                item: try TextTable.id(fields[c.item], path: path, line: lineNumber, what: "item"),
                time: try c.time.map { try TextTable.number(fields[$0], path: path, line: lineNumber, what: "timestamp") } ?? 0,
                context: c.context.map { String(fields[$0].trimmingSpaces) }))
        }
        if columns == nil { throw InteractionError.empty(path: path, reason: "no header line") }
        return events
    }
}
