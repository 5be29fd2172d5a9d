import ShortlistCore
import ShortlistIndex

/// Reads a top-level field of a payload (stored JSON text) for the re-ranking stage.
enum PayloadFields {
    /// The values of top-level member `field` of `payload`: a string, a number (as its text), a
    /// boolean, or the strings and numbers of an array. Empty when the payload is not an object,
    /// has no such member, or it holds something else (null, an object).
    static func values(_ field: String, in payload: [UInt8]) -> [String] {
        payload.withUnsafeBufferPointer { bytes in
            var s = JSONScanner(bytes)
            guard s.peek() == UInt8(ascii: "{") else { return [] }
            var out: [String] = []
            try? s.readObject { s, key in
                guard key == field, out.isEmpty else { return try s.skipValue() }
                out = try scalarOrList(&s)
            }
            return out
        }
    }

    private static func scalar(_ s: inout JSONScanner) throws -> String? {
        switch s.peek() {
        case UInt8(ascii: "\""): return try s.readString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return try s.readBool() ? "true" : "false"
        case let c? where c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")):
            let d = try s.readDouble()
            return d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        default:
            try s.skipValue()
            return nil
        }
    }

    private static func scalarOrList(_ s: inout JSONScanner) throws -> [String] {
        guard s.peek() == UInt8(ascii: "[") else { return try scalar(&s).map { [$0] } ?? [] }
        var out: [String] = []
        try s.readArray { s in if let v = try scalar(&s) { out.append(v) } }
        return out
    }

    /// Every top-level field of `payload` with its scalars (strings, numbers, booleans; a list's
    /// scalars; null, objects and nested lists give none), for `PayloadIndex`. Empty when the
    /// payload is not an object.
    static func indexable(_ payload: [UInt8]) -> [String: [PayloadValue]] {
        payload.withUnsafeBufferPointer { bytes in
            var s = JSONScanner(bytes)
            guard s.peek() == UInt8(ascii: "{") else { return [:] }
            var out: [String: [PayloadValue]] = [:]
            do {
                try s.readObject { s, key in
                    var values: [PayloadValue] = []
                    if s.peek() == UInt8(ascii: "[") {
                        try s.readArray { s in if let v = try typed(&s) { values.append(v) } }
                    } else if let v = try typed(&s) {
                        values.append(v)
                    }
                    out[key] = values
                }
            } catch {
                return [:]
            }
            return out
        }
    }

    private static func typed(_ s: inout JSONScanner) throws -> PayloadValue? {
        switch s.peek() {
        case UInt8(ascii: "\""): return .string(try s.readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try s.readBool())
        case let c? where c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")): return .number(try s.readDouble())
        default:
            try s.skipValue()
            return nil
        }
    }
}
