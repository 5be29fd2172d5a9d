import ShortlistCore

/// The texmex formats (`.fvecs`, `.ivecs`, `.bvecs`): per row an int32 `d`, then `d` elements.
enum TexmexFormat {
    enum Element {
        case float32, int32, uint8
        var size: Int { self == .uint8 ? 1 : 4 }
    }

    /// Checks every row header and returns (rows, dimension); throws on ragged or truncated rows.
    static func layout(_ file: MappedFile, element: Element) throws -> (rows: Int, dimension: Int) {
        let bytes = file.bytes
        guard bytes.count > 0 else { throw VectorFileError.empty(path: file.path) }
        guard bytes.count >= 4 else {
            throw VectorFileError.truncated(path: file.path, row: 0, reason: "the file has \(bytes.count) bytes, less than one row header")
        }
        let d = Int(Int32(littleEndian: bytes.loadUnaligned(as: Int32.self)))
        guard d >= 1, d <= VectorMatrix.maximumDimension else {
            throw VectorFileError.badHeader(path: file.path, reason: "row 0 declares dimension \(d) (allowed: 1...\(VectorMatrix.maximumDimension))")
        }
        let rowBytes = 4 + d * element.size
        var offset = 0
        var row = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else {
                throw VectorFileError.truncated(path: file.path, row: row, reason: "only \(bytes.count - offset) bytes of its 4-byte header")
            }
            let di = Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
            guard di == d else { throw VectorFileError.raggedRow(path: file.path, row: row, expected: d, actual: di) }
            guard bytes.count - offset >= rowBytes else {
                throw VectorFileError.truncated(path: file.path, row: row,
                                                reason: "expected \(rowBytes) bytes, found \(bytes.count - offset)")
            }
            offset += rowBytes
            row += 1
        }
        return (row, d)
    }

    static func readFloats(_ file: MappedFile, element: Element, progress: ProgressHandler?) throws -> VectorMatrix {
        let (rows, d) = try layout(file, element: element)
        let matrix = try VectorMatrix(count: rows, dimension: d)
        let rowBytes = 4 + d * element.size
        let src = file.bytes.baseAddress!
        let step = max(1, rows / 100)
        for r in 0..<rows {
            let from = src + r * rowBytes + 4
            let to = matrix.row(r)
            switch element {
            case .float32:
                UnsafeMutableRawPointer(to).copyMemory(from: from, byteCount: d * 4)
            case .int32:
                for j in 0..<d { to[j] = Float(Int32(littleEndian: from.loadUnaligned(fromByteOffset: 4 * j, as: Int32.self))) }
            case .uint8:
                let b = from.assumingMemoryBound(to: UInt8.self)
                for j in 0..<d { to[j] = Float(b[j]) }
            }
            if let progress, r % step == 0 { progress(r, rows) }
        }
        progress?(rows, rows)
        if element == .float32, let bad = matrix.firstNonFinite() {
            throw VectorFileError.nonFinite(path: file.path, row: bad.row, column: bad.column)
        }
        return matrix
    }

    static func readInts(_ file: MappedFile) throws -> IntMatrix {
        guard VectorFileFormat(path: file.path) == .ivecs else { throw VectorFileError.unknownFormat(path: file.path) }
        let (rows, d) = try layout(file, element: .int32)
        var values = [Int32](repeating: 0, count: rows * d)
        let src = file.bytes.baseAddress!
        values.withUnsafeMutableBytes { out in
            for r in 0..<rows {
                out.baseAddress!.advanced(by: r * d * 4).copyMemory(from: src + r * (4 + 4 * d) + 4, byteCount: 4 * d)
            }
        }
        return IntMatrix(count: rows, width: d, values: values.map { Int32(littleEndian: $0) })
    }

    static func writeFvecs(_ matrix: VectorMatrix, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        var header = Int32(matrix.dimension).littleEndian
        for r in 0..<matrix.count {
            try withUnsafeBytes(of: &header) { try writer.write($0) }
            try writer.write(UnsafeRawBufferPointer(start: matrix.row(r), count: matrix.dimension * 4))
        }
        try writer.commit()
    }

    static func writeIvecs(_ m: IntMatrix, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        var header = Int32(m.width).littleEndian
        try m.values.withUnsafeBytes { all in
            for r in 0..<m.count {
                try withUnsafeBytes(of: &header) { try writer.write($0) }
                try writer.write(UnsafeRawBufferPointer(rebasing: all[r * m.width * 4..<(r + 1) * m.width * 4]))
            }
        }
        try writer.commit()
    }
}
