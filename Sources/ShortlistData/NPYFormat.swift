import ShortlistCore

/// NumPy's `.npy` format, versions 1.0–3.0: a 2-D C-order array of little-endian float32,
/// float64 or float16. Other dtypes, big-endian data and Fortran order are refused by name.
public enum NPYFormat {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    struct Header {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
        var dataOffset: Int
    }

    static func parseHeader(_ file: MappedFile) throws -> Header {
        let b = file.bytes
        func bad(_ reason: String) -> VectorFileError { .badHeader(path: file.path, reason: reason) }
        guard b.count > 0 else { throw VectorFileError.empty(path: file.path) }
        guard b.count >= 10, Array(b[0..<6]) == magic else { throw bad("not an .npy file (missing the \\x93NUMPY magic)") }
        let major = b[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(UInt16(b[8]) | UInt16(b[9]) << 8)
            headerStart = 10
        case 2, 3:
            guard b.count >= 12 else { throw bad("file ends inside the header length") }
            headerLength = Int(UInt32(b[8]) | UInt32(b[9]) << 8 | UInt32(b[10]) << 16 | UInt32(b[11]) << 24)
            headerStart = 12
        default:
            throw bad("format version \(major).\(b[7]) is not supported (1.0 to 3.0 are)")
        }
        guard headerStart + headerLength <= b.count else { throw bad("file ends inside the \(headerLength)-byte header") }
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: b[headerStart..<headerStart + headerLength]), as: UTF8.self) else {
            throw bad("header is not text")
        }
        guard let descr = stringValue(for: "descr", in: text) else { throw bad("no 'descr' in \(text.prefix(80))") }
        guard let fortran = boolValue(for: "fortran_order", in: text) else { throw bad("no 'fortran_order' in \(text.prefix(80))") }
        guard let shape = tupleValue(for: "shape", in: text) else { throw bad("no readable 'shape' in \(text.prefix(80))") }
        return Header(descr: descr, fortranOrder: fortran, shape: shape, dataOffset: headerStart + headerLength)
    }

    static func read(_ file: MappedFile) throws -> VectorMatrix {
        let h = try parseHeader(file)
        let path = file.path
        guard !h.fortranOrder else {
            throw VectorFileError.unsupportedType(path: path, reason: "Fortran (column-major) order; save with np.ascontiguousarray(x) first")
        }
        let itemSize: Int
        switch h.descr {
        case "<f4", "=f4": itemSize = 4
        case "<f8", "=f8": itemSize = 8
        case "<f2", "=f2": itemSize = 2
        case ">f4", ">f8", ">f2":
            throw VectorFileError.unsupportedType(path: path, reason: "big-endian dtype '\(h.descr)'; use x.astype('<f4')")
        default:
            throw VectorFileError.unsupportedType(path: path, reason: "dtype '\(h.descr)'; only float32, float64 and float16 vectors are read")
        }
        guard h.shape.count == 2 else {
            throw VectorFileError.badHeader(path: path, reason: "shape \(h.shape) is not 2-D (rows, dimension)")
        }
        let (rows, d) = (h.shape[0], h.shape[1])
        guard rows > 0 else { throw VectorFileError.empty(path: path) }
        guard d >= 1, d <= VectorMatrix.maximumDimension else {
            throw VectorFileError.badHeader(path: path, reason: "dimension \(d) (allowed: 1...\(VectorMatrix.maximumDimension))")
        }
        let available = file.count - h.dataOffset
        let needed = rows * d * itemSize
        if available < needed {
            let completeRows = available / (d * itemSize)
            throw VectorFileError.truncated(path: path, row: completeRows,
                                            reason: "shape \(h.shape) needs \(needed) data bytes, the file has \(available)")
        }
        if available > needed {
            throw VectorFileError.badHeader(path: path, reason: "\(available - needed) bytes follow the \(rows) × \(d) array")
        }
        let matrix = try VectorMatrix(count: rows, dimension: d)
        let src = file.bytes.baseAddress! + h.dataOffset
        let out = matrix.baseAddress
        switch itemSize {
        case 4:
            UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: needed)
        case 8:
            for i in 0..<rows * d {
                out[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
            }
        default:
            for i in 0..<rows * d {
                out[i] = Float(Float16(bitPattern: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
            }
        }
        if let bad = matrix.firstNonFinite() {
            throw VectorFileError.nonFinite(path: path, row: bad.row, column: bad.column)
        }
        return matrix
    }

    /// Writes a version 1.0 file of dtype `<f4`, its header padded so the data starts 64-byte aligned.
    static func write(_ matrix: VectorMatrix, to path: String) throws {
        try write(descr: "'<f4'", shape: [matrix.count, matrix.dimension],
                  data: UnsafeRawBufferPointer(start: matrix.baseAddress, count: matrix.count * matrix.dimension * 4), to: path)
    }

    /// Writes a version 1.0 file, atomically: `descr` is the dtype as a Python literal (`'<f4'`,
    /// or a structured `[('id', '<i8'), ('score', '<f4')]`), `data` the C-order values of `shape`.
    /// The header is padded so the data starts 64-byte aligned.
    static func write(descr: String, shape: [Int], data: UnsafeRawBufferPointer, to path: String) throws {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var dict = "{'descr': \(descr), 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var header = magic + [1, 0]
        let n = UInt16(dict.utf8.count)
        header += [UInt8(n & 0xFF), UInt8(n >> 8)]
        header += Array(dict.utf8)
        let writer = try AtomicFileWriter(path: path)
        try writer.write(header)
        if data.count > 0 { try writer.write(data) }
        try writer.commit()
    }

    /// Writes search results as one `rows × k` array of records `(id int64, score float32)`:
    /// `numpy.load(path)["id"]` and `["score"]`. `ids` and `scores` are `rows × k`, row-major;
    /// a missing hit is id −1, score −inf.
    public static func writeHits(ids: [Int64], scores: [Float], rows: Int, k: Int, to path: String) throws {
        precondition(ids.count == rows * k && scores.count == rows * k)
        var bytes = [UInt8]()
        bytes.reserveCapacity(rows * k * 12)
        for i in 0..<ids.count {
            withUnsafeBytes(of: ids[i].littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: scores[i].bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        try bytes.withUnsafeBytes { try write(descr: "[('id', '<i8'), ('score', '<f4')]", shape: [rows, k], data: $0, to: path) }
    }

    // MARK: The header's Python-literal dict, read just enough.

    private static func valueStart(for key: String, in text: String) -> Substring? {
        for quote in ["'", "\""] {
            if let r = text.range(of: quote + key + quote) {
                var rest = text[r.upperBound...].drop { $0 == " " }
                guard rest.first == ":" else { return nil }
                rest = rest.dropFirst().drop { $0 == " " }
                return rest
            }
        }
        return nil
    }

    private static func stringValue(for key: String, in text: String) -> String? {
        guard let rest = valueStart(for: key, in: text), let q = rest.first, q == "'" || q == "\"" else { return nil }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: q) else { return nil }
        return String(body[..<end])
    }

    private static func boolValue(for key: String, in text: String) -> Bool? {
        guard let rest = valueStart(for: key, in: text) else { return nil }
        if rest.hasPrefix("True") { return true }
        if rest.hasPrefix("False") { return false }
        return nil
    }

    private static func tupleValue(for key: String, in text: String) -> [Int]? {
        guard let rest = valueStart(for: key, in: text), rest.first == "(", let end = rest.firstIndex(of: ")") else { return nil }
        let inner = rest[rest.index(after: rest.startIndex)..<end]
        var out: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: " ")
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { return nil }
            out.append(v)
        }
        return out
    }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
