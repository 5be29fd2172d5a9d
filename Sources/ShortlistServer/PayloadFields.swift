import ShortlistCore
import ShortlistIndex

/// Reads the top-level fields of a payload (stored JSON text) for `PayloadIndex`.
enum PayloadFields {
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
