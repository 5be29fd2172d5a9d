import ShortlistCore

/// `.jsonl` vectors: one `{"id": <uint64>, "vector": [numbers]}` object per line. A `"payload"`
/// member is allowed and skipped; any other member, a missing id or vector, a duplicate id, a
/// different dimension or a non-finite number refuses the file with its line number.
enum JSONLinesFormat {
    static func read(_ file: MappedFile, progress: ProgressHandler?) throws -> VectorFile {
        var ids: [UInt64] = []
        var seen = Set<UInt64>()
        var values: [Float] = []
        var dimension = 0
        var lineNumber = 0
        var row: [Float] = []
        let total = file.count
        var consumed = 0
        try forEachLine(file.bytes) { line in
            lineNumber += 1
            consumed += line.count + 1
            let bytes = line.bindMemory(to: UInt8.self)
            var scanner = JSONScanner(bytes)
            if scanner.isAtEnd() { return }
            func bad(_ reason: String) -> VectorFileError { .badLine(path: file.path, line: lineNumber, reason: reason) }
            var id: UInt64?
            row.removeAll(keepingCapacity: true)
            var sawVector = false
            do {
                try scanner.readObject { s, key in
                    switch key {
                    case "id":
                        guard id == nil else { throw bad("member \"id\" appears twice") }
                        id = try s.readUInt64()
                    case "vector":
                        guard !sawVector else { throw bad("member \"vector\" appears twice") }
                        sawVector = true
                        try s.readFloatArray(into: &row, limit: VectorMatrix.maximumDimension)
                    case "payload":
                        try s.skipValue()
                    default:
                        throw bad("unknown member \"\(key.prefix(40))\" (expected \"id\", \"vector\" and optionally \"payload\")")
                    }
                }
                guard scanner.isAtEnd() else { throw bad("text after the object") }
            } catch let e as JSONError {
                throw bad(e.description)
            }
            guard let id else { throw bad("missing \"id\"") }
            guard sawVector else { throw bad("missing \"vector\"") }
            guard !row.isEmpty else { throw bad("\"vector\" is empty") }
            if dimension == 0 { dimension = row.count }
            guard row.count == dimension else {
                throw bad("vector has \(row.count) components, earlier lines have \(dimension)")
            }
            guard seen.insert(id).inserted else { throw VectorFileError.duplicateId(path: file.path, line: lineNumber, id: id) }
            ids.append(id)
            values.append(contentsOf: row)
            if let progress, ids.count % 4096 == 0 { progress(consumed, total) }
        }
        guard dimension > 0 else { throw VectorFileError.empty(path: file.path) }
        progress?(total, total)
        return VectorFile(matrix: try VectorMatrix(dimension: dimension, values: values), ids: ids)
    }
}
