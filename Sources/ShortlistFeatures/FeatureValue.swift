import ShortlistCore

/// One raw value of a feature column, as read from a feature file or sent in a request, before
/// a `FeatureEncoder` turns it into embedding rows.
public enum FeatureValue: Sendable, Equatable, Hashable {
    /// A string: a category ("mobile"), a text ("Toy Story (1995)"), or a list joined by the
    /// column's separator ("Comedy|Drama") in a CSV cell.
    case text(String)
    /// Several strings: a JSON array of tags.
    case list([String])
    /// A number: a numeric column, a timestamp, an hour.
    case number(Double)

    /// The value as strings: a list's elements, a number's shortest decimal form.
    public var strings: [String] {
        switch self {
        case let .text(s): return [s]
        case let .list(l): return l
        case let .number(d): return [d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)]
        }
    }

    /// The value as a number, if it is one or is a string that parses as a finite one.
    public var number: Double? {
        switch self {
        case let .number(d): return d.isFinite ? d : nil
        case let .text(s):
            guard let d = Double(s.trimmedSpaces), d.isFinite else { return nil }
            return d
        case .list: return nil
        }
    }
}

extension FeatureValue {
    /// Reads one JSON value as a feature value: a string, number, boolean (as "true"/"false"),
    /// array of strings or numbers; nil for null. Anything else (objects, nested arrays) throws
    /// `FeatureError.badSchema` naming the problem.
    public static func read(_ s: inout JSONScanner, name: String) throws -> FeatureValue? {
        try read(&s) { FeatureError.badSchema(reason: "'\(name)': \($0)") }
    }

    /// `read(_:name:)` throwing `bad(reason)` for a value that is not a feature value.
    public static func read(_ s: inout JSONScanner, bad: (String) -> any Error) throws -> FeatureValue? {
        switch s.peek() {
        case UInt8(ascii: "\""): return .text(try s.readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .text(try s.readBool() ? "true" : "false")
        case UInt8(ascii: "n"): try s.skipValue(); return nil
        case UInt8(ascii: "["):
            var list: [String] = []
            try s.readArray { s in
                switch s.peek() {
                case UInt8(ascii: "\""): list.append(try s.readString())
                case let c? where c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")):
                    list.append(FeatureValue.number(try s.readDouble()).strings[0])
                default: throw bad("a list value must hold strings or numbers")
                }
            }
            return .list(list)
        case let c? where c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")):
            let d = try s.readDouble()
            guard d.isFinite else { throw bad("a number is not finite") }
            return .number(d)
        default: throw bad("a feature value must be a string, number, boolean, list or null")
        }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmedSpaces: String { String(Substring(self).trimmingSpaces) }
}
