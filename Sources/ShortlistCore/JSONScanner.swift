import CShortlistKernels
#if canImport(Glibc)
import Glibc
#endif

/// A strict, allocation-light JSON reader over UTF-8 bytes (RFC 8259), pulled value by value.
///
/// It exists because Foundation's `JSONDecoder` costs ~100 µs for a 128-float request while this
/// reads one in a few µs (docs/performance.md §6). Numbers use the exact fast path (≤ 19 significant
/// digits and |exponent| ≤ 22 are correctly rounded to Double) and fall back to `strtod`
/// otherwise. Hostile input cannot make it read out of bounds, recurse without limit, or build
/// unbounded arrays: depth and element counts are capped.
public struct JSONScanner {
    /// The text being read (not owned; must outlive the scanner).
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The next byte offset to read.
    public var position: Int
    /// How deeply `skipValue` may recurse into objects and arrays.
    public var maximumDepth = 64

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        position = 0
    }

    // MARK: Structure

    /// Skips spaces, tabs, CR and LF.
    @inlinable
    public mutating func skipWhitespace() {
        while position < bytes.count {
            let c = bytes[position]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            position += 1
        }
    }

    /// The next non-whitespace byte, not consumed; nil at the end.
    @inlinable
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// True when only whitespace remains.
    public mutating func isAtEnd() -> Bool { peek() == nil }

    /// Consumes `byte` (after whitespace) or throws.
    public mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard let c = peek() else { throw JSONError.unexpectedEnd(offset: position) }
        guard c == byte else { throw JSONError.syntax(offset: position, expected: what) }
        position += 1
    }

    /// Consumes `byte` if it is next (after whitespace).
    @inlinable
    public mutating func consume(_ byte: UInt8) -> Bool {
        if peek() == byte { position += 1; return true }
        return false
    }

    /// Iterates over the members of an object: calls `body` with each key, positioned at its value,
    /// which `body` must consume (read or skip). Rejects trailing commas and missing colons.
    public mutating func readObject(_ body: (inout JSONScanner, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "'{'")
        if consume(UInt8(ascii: "}")) { return }
        while true {
            guard peek() == UInt8(ascii: "\"") else {
                if position >= bytes.count { throw JSONError.unexpectedEnd(offset: position) }
                throw JSONError.syntax(offset: position, expected: "a member name in double quotes")
            }
            let key = try readString()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            try body(&self, key)
            if consume(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return
        }
    }

    /// Iterates over an array's elements: `body` is called positioned at each element, and must
    /// consume it. At most `limit` elements.
    public mutating func readArray(limit: Int = .max, _ body: (inout JSONScanner) throws -> Void) throws {
        let start = position
        try expect(UInt8(ascii: "["), "'['")
        if consume(UInt8(ascii: "]")) { return }
        var n = 0
        while true {
            n += 1
            if n > limit { throw JSONError.tooManyElements(offset: start, limit: limit) }
            try body(&self)
            if consume(UInt8(ascii: ",")) { continue }
            try expect(UInt8(ascii: "]"), "',' or ']' in an array")
            return
        }
    }

    /// Skips any one value, however nested (up to `maximumDepth`).
    public mutating func skipValue() throws {
        try skipValue(depth: 0)
    }

    /// Reads any one value (validated as `skipValue` does) and returns its text as written.
    public mutating func readRawValue() throws -> [UInt8] {
        _ = peek()
        let start = position
        try skipValue()
        return Array(bytes[start..<position])
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth < maximumDepth else { throw JSONError.nestingTooDeep(offset: position, limit: maximumDepth) }
        guard let c = peek() else { throw JSONError.unexpectedEnd(offset: position) }
        switch c {
        case UInt8(ascii: "{"):
            try readObject { s, _ in try s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try readArray { s in try s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            _ = try readString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try readBool()
        case UInt8(ascii: "n"):
            try readNull()
        default:
            _ = try readDouble()
        }
    }

    // MARK: Scalars

    /// Reads `true` or `false`.
    public mutating func readBool() throws -> Bool {
        if try readLiteral("true") { return true }
        if try readLiteral("false") { return false }
        throw JSONError.syntax(offset: position, expected: "true or false")
    }

    /// Reads `null`.
    public mutating func readNull() throws {
        guard try readLiteral("null") else { throw JSONError.syntax(offset: position, expected: "null") }
    }

    /// True (and consumed) when the next value is `null`.
    public mutating func consumeNull() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try readNull()
        return true
    }

    private mutating func readLiteral(_ word: StaticString) throws -> Bool {
        _ = peek()
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else {
            if position < bytes.count && bytes[position] == word.utf8Start[0] { throw JSONError.unexpectedEnd(offset: position) }
            return false
        }
        for i in 0..<n where bytes[position + i] != word.utf8Start[i] { return false }
        position += n
        return true
    }

    /// Reads a string value, decoding escapes (`\uXXXX` with surrogate pairs) and validating UTF-8.
    public mutating func readString() throws -> String {
        let start = position
        try expect(UInt8(ascii: "\""), "a string")
        let contentStart = position
        // Fast path: no escapes.
        var ascii = true
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[contentStart..<position])
                position += 1
                // ASCII needs no validation (member names and most values: no generic UTF-8 check).
                if ascii { return String(decoding: raw, as: UTF8.self) }
                guard let s = String(validating: raw, as: UTF8.self) else { throw JSONError.invalidString(offset: start) }
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw JSONError.invalidString(offset: position) }
            ascii = ascii && c < 0x80
            position += 1
        }
        var out = Array(bytes[contentStart..<position])
        while position < bytes.count {
            let c = bytes[position]
            position += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw JSONError.invalidString(offset: start) }
                return s
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw JSONError.unexpectedEnd(offset: position) }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else { throw JSONError.invalidString(offset: position) }
                        position += 2
                        let low = try readHex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw JSONError.invalidString(offset: position) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw JSONError.invalidString(offset: position)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw JSONError.invalidString(offset: position) }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    throw JSONError.invalidString(offset: position - 1)
                }
            default:
                if c < 0x20 { throw JSONError.invalidString(offset: position - 1) }
                out.append(c)
            }
        }
        throw JSONError.unexpectedEnd(offset: position)
    }

    private mutating func readHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw JSONError.unexpectedEnd(offset: position) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw JSONError.invalidString(offset: position)
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }
}
