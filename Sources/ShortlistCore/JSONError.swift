/// A JSON text that could not be read. `offset` is the byte offset within the text.
public enum JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is not valid JSON at `offset`: `expected` says what should have been there.
    case syntax(offset: Int, expected: String)
    /// The text ended in the middle of a value.
    case unexpectedEnd(offset: Int)
    /// Objects and arrays are nested deeper than the reader allows.
    case nestingTooDeep(offset: Int, limit: Int)
    /// A number does not fit the requested type (too large, negative for an unsigned id, or
    /// overflowing Float32 to infinity).
    case numberOutOfRange(offset: Int, type: String)
    /// A string holds invalid UTF-8 or an invalid escape.
    case invalidString(offset: Int)
    /// An array holds more elements than allowed.
    case tooManyElements(offset: Int, limit: Int)

    public var description: String {
        switch self {
        case let .syntax(offset, expected): return "invalid JSON at byte \(offset): expected \(expected)"
        case let .unexpectedEnd(offset): return "invalid JSON: the text ends at byte \(offset) in the middle of a value"
        case let .nestingTooDeep(offset, limit): return "JSON nested deeper than \(limit) levels at byte \(offset)"
        case let .numberOutOfRange(offset, type): return "number at byte \(offset) does not fit \(type)"
        case let .invalidString(offset): return "invalid string (bad UTF-8 or escape) at byte \(offset)"
        case let .tooManyElements(offset, limit): return "array at byte \(offset) has more than \(limit) elements"
        }
    }
}
