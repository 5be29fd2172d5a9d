import ShortlistCore

/// Errors building, querying or changing an index.
public enum IndexError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec string could not be parsed or names an index this build does not have.
    case invalidSpec(String, reason: String)
    /// The same external id was given twice.
    case duplicateId(UInt64)
    /// There are `actual` ids for `expected` vectors.
    case idCountMismatch(expected: Int, actual: Int)
    /// The index holds no vectors.
    case empty
    /// Too many rows for 32-bit row numbers.
    case tooManyRows(Int)
    /// A search or build knob is outside its allowed range.
    case invalidParameter(name: String, value: Int, allowed: ClosedRange<Int>)
    /// No vector has this id.
    case unknownId(UInt64)

    public var description: String {
        switch self {
        case let .invalidSpec(spec, reason): return "invalid index spec '\(spec)': \(reason)"
        case let .duplicateId(id): return "id \(id) is given more than once"
        case let .idCountMismatch(expected, actual): return "\(actual) ids were given for \(expected) vectors"
        case .empty: return "the index holds no vectors"
        case let .tooManyRows(n): return "\(n) rows exceed the limit of \(UInt32.max - 1)"
        case let .invalidParameter(name, value, allowed):
            return "\(name) = \(value) is out of range (allowed: \(allowed.lowerBound)...\(allowed.upperBound))"
        case let .unknownId(id): return "no vector has id \(id)"
        }
    }
}
