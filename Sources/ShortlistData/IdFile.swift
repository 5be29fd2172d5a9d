import ShortlistCore

/// External ids, one unsigned 64-bit integer per line (`item_ids.txt`); blank lines are skipped
/// and `#` starts a comment line.
public enum IdFile {
    /// Reads the ids; refuses malformed lines and duplicates with the line number.
    public static func read(path: String) throws -> [UInt64] {
        let file = try TextInput.open(path)
        var ids: [UInt64] = []
        var seen = Set<UInt64>()
        var lineNumber = 0
        try forEachLine(file.bytes) { line in
            lineNumber += 1
            var s = Substring(decoding: line, as: UTF8.self)
            s = s.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
            if s.isEmpty || s.hasPrefix("#") { return }
            guard let id = UInt64(s) else {
                throw VectorFileError.badLine(path: path, line: lineNumber, reason: "'\(s.prefix(40))' is not an unsigned 64-bit integer")
            }
            guard seen.insert(id).inserted else { throw VectorFileError.duplicateId(path: path, line: lineNumber, id: id) }
            ids.append(id)
        }
        return ids
    }

    /// Writes one id per line, atomically.
    public static func write(_ ids: [UInt64], to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        var text = ""
        text.reserveCapacity(ids.count * 8)
        for id in ids {
            text += String(id)
            text += "\n"
        }
        try writer.write(Array(text.utf8))
        try writer.commit()
    }
}

/// Calls `body` with each line of `bytes` (without its newline); a last line without a newline counts.
public func forEachLine(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    var start = 0
    let n = bytes.count
    while start < n {
        var end = start
        while end < n && bytes[end] != 0x0A { end += 1 }
        try body(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        start = end + 1
    }
}
