/// Why a vector, id or ground-truth file was refused. Every case names the file, and where it
/// can, the row (0-based, binary formats) or line (1-based, text formats).
public enum VectorFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The extension is not one of `.fvecs .ivecs .bvecs .npy .jsonl` (or `.txt` for ids).
    case unknownFormat(path: String)
    /// The file holds no rows.
    case empty(path: String)
    /// The file ends inside row `row`.
    case truncated(path: String, row: Int, reason: String)
    /// Row `row` has `actual` components where every earlier row had `expected`.
    case raggedRow(path: String, row: Int, expected: Int, actual: Int)
    /// Row `row`, component `column` is NaN or infinite.
    case nonFinite(path: String, row: Int, column: Int)
    /// The header or a row header is not what the format requires.
    case badHeader(path: String, reason: String)
    /// The element type or layout is not supported (e.g. an `.npy` of int64 or in Fortran order).
    case unsupportedType(path: String, reason: String)
    /// Line `line` of a text file is malformed.
    case badLine(path: String, line: Int, reason: String)
    /// Id `id` appears twice (second time at line `line`).
    case duplicateId(path: String, line: Int, id: UInt64)
    /// The number of ids does not match the number of vectors.
    case countMismatch(path: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case let .unknownFormat(path):
            return "\(path): unknown vector file format (expected .fvecs, .ivecs, .bvecs, .npy or .jsonl)"
        case let .empty(path): return "\(path): the file holds no rows"
        case let .truncated(path, row, reason): return "\(path): truncated in row \(row): \(reason)"
        case let .raggedRow(path, row, expected, actual):
            return "\(path): row \(row) has \(actual) components, but earlier rows have \(expected)"
        case let .nonFinite(path, row, column): return "\(path): row \(row), component \(column) is NaN or infinite"
        case let .badHeader(path, reason): return "\(path): bad header: \(reason)"
        case let .unsupportedType(path, reason): return "\(path): unsupported: \(reason)"
        case let .badLine(path, line, reason): return "\(path): line \(line): \(reason)"
        case let .duplicateId(path, line, id): return "\(path): line \(line): id \(id) appears more than once"
        case let .countMismatch(path, expected, actual):
            return "\(path): holds \(actual) ids, but there are \(expected) vectors"
        }
    }
}
