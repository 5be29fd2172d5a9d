import ShortlistCore

/// Line and field splitting for the text layouts of interaction logs (CSV with quotes, `::`,
/// tab and whitespace separated), over a memory-mapped file.
enum TextTable {
    /// Calls `body(lineNumber, fields)` for every non-blank line (1-based numbers), the fields
    /// split by `separator` (nil: runs of spaces and tabs). A trailing `\r` is dropped.
    /// Double quotes group a field containing the separator when `quoted` (CSV).
    static func forEachRow(_ file: MappedFile, separator: String?, quoted: Bool = false,
                           _ body: (Int, [Substring]) throws -> Void) throws {
        try forEachRawLine(file) { lineNumber, line in try body(lineNumber, split(line, separator: separator, quoted: quoted)) }
    }

    /// Calls `body(lineNumber, line)` for every non-blank line, unsplit (a trailing `\r` dropped).
    static func forEachRawLine(_ file: MappedFile, _ body: (Int, Substring) throws -> Void) throws {
        var lineNumber = 0
        try forEachLine(file.bytes) { raw in
            lineNumber += 1
            var line = Substring(decoding: raw, as: UTF8.self)
            if line.last == "\r" { line = line.dropLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { return }
            try body(lineNumber, line)
        }
    }

    static func split(_ line: Substring, separator: String?, quoted: Bool) -> [Substring] {
        guard let separator else {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        }
        if !quoted || !line.contains("\"") {
            return line.split(separator: separator, omittingEmptySubsequences: false)
        }
        // Quote-aware CSV: a field starting with " runs to the matching " ("" is a literal quote).
        var fields: [Substring] = []
        var rest = line[...]
        while true {
            if rest.first == "\"" {
                var i = rest.index(after: rest.startIndex)
                var text = ""
                while i < rest.endIndex {
                    if rest[i] == "\"" {
                        let next = rest.index(after: i)
                        if next < rest.endIndex && rest[next] == "\"" { text.append("\""); i = rest.index(after: next); continue }
                        i = next
                        break
                    }
                    text.append(rest[i])
                    i = rest.index(after: i)
                }
                fields.append(Substring(text))
                rest = rest[i...]
                if let r = rest.range(of: separator) { rest = rest[r.upperBound...] } else { break }
            } else if let r = rest.range(of: separator) {
                fields.append(rest[..<r.lowerBound])
                rest = rest[r.upperBound...]
            } else {
                fields.append(rest)
                break
            }
        }
        return fields
    }

    /// The delimiter of a header line: tab, semicolon or comma, whichever occurs.
    static func delimiter(ofHeader line: Substring) -> String {
        if line.contains("\t") { return "\t" }
        if line.contains(";") && !line.contains(",") { return ";" }
        return ","
    }

    /// An unsigned integer id, or a refusal naming the line.
    static func id(_ field: Substring, path: String, line: Int, what: String) throws -> UInt64 {
        guard let v = UInt64(field.trimmingSpaces) else {
            throw InteractionError.badLine(path: path, line: line, reason: "\(what) '\(field.prefix(40))' is not an unsigned integer")
        }
        return v
    }

    /// A finite number, or a refusal naming the line.
    static func number(_ field: Substring, path: String, line: Int, what: String) throws -> Double {
        guard let v = Double(field.trimmingSpaces), v.isFinite else {
            throw InteractionError.badLine(path: path, line: line, reason: "\(what) '\(field.prefix(40))' is not a finite number")
        }
        return v
    }
}
