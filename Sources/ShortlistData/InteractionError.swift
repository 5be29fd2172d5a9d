/// Why interaction data was refused. Every case names the file and, where it can, the line.
public enum InteractionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No file of the layout the format needs was found.
    case missingFile(path: String, expected: String)
    /// Line `line` (1-based) of a text file is malformed.
    case badLine(path: String, line: Int, reason: String)
    /// A csv column named on the command line is not in the header.
    case missingColumn(path: String, column: String, header: [String])
    /// After filtering there is nothing to train on.
    case empty(path: String, reason: String)
    /// A split setting is out of range.
    case badSplit(reason: String)
    /// A feature schema (file or inferred) is malformed or names something that is not there.
    case badSchema(reason: String)
    /// A saved data description (next to a model) is malformed.
    case badSource(reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, expected): return "\(path): \(expected) not found"
        case let .badLine(path, line, reason): return "\(path): line \(line): \(reason)"
        case let .missingColumn(path, column, header):
            return "\(path): no column '\(column)' (the header has: \(header.joined(separator: ", ")))"
        case let .empty(path, reason): return "\(path): no interactions to train on: \(reason)"
        case let .badSplit(reason): return "bad split: \(reason)"
        case let .badSchema(reason): return "bad feature schema: \(reason)"
        case let .badSource(reason): return "bad data description: \(reason)"
        }
    }
}
