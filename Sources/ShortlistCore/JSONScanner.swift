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

    // MARK: Numbers

    /// Reads a JSON number as a Double (correctly rounded).
    public mutating func readDouble() throws -> Double {
        _ = peek()
        let start = position
        var negative = false
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") { negative = true; position += 1 }
        guard position < bytes.count else { throw JSONError.unexpectedEnd(offset: position) }
        var mantissa: UInt64 = 0
        var digits = 0          // significant digits accumulated into mantissa
        var dropped = 0         // integer digits that did not fit (scale up)
        var exponent = 0
        let first = bytes[position]
        guard first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else {
            throw JSONError.syntax(offset: start, expected: "a number")
        }
        if first == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count, case let c = bytes[position], c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                if digits < 19 { mantissa = mantissa * 10 + UInt64(c - UInt8(ascii: "0")); if mantissa > 0 { digits += 1 } } else { dropped += 1 }
                position += 1
            }
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            let fracStart = position
            while position < bytes.count, case let c = bytes[position], c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                if digits < 19 {
                    mantissa = mantissa * 10 + UInt64(c - UInt8(ascii: "0"))
                    if mantissa > 0 { digits += 1 }
                    exponent -= 1
                }
                position += 1
            }
            guard position > fracStart else {
                if position >= bytes.count { throw JSONError.unexpectedEnd(offset: position) }
                throw JSONError.syntax(offset: position, expected: "a digit after '.'")
            }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            position += 1
            var expNegative = false
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) {
                expNegative = bytes[position] == UInt8(ascii: "-")
                position += 1
            }
            let expStart = position
            var e = 0
            while position < bytes.count, case let c = bytes[position], c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                if e < 100_000 { e = e * 10 + Int(c - UInt8(ascii: "0")) }
                position += 1
            }
            guard position > expStart else {
                if position >= bytes.count { throw JSONError.unexpectedEnd(offset: position) }
                throw JSONError.syntax(offset: position, expected: "a digit in the exponent")
            }
            exponent += expNegative ? -e : e
        }
        exponent += dropped
        var value: Double
        if digits <= 15 && exponent >= -22 && exponent <= 22 {
            // Exact: mantissa < 10^15 < 2^53, and 10^|e| ≤ 10^22 is exactly representable.
            value = Double(mantissa)
            if exponent < 0 { value /= Self.powersOfTen[-exponent] } else { value *= Self.powersOfTen[exponent] }
        } else if mantissa == 0 {
            value = 0
        } else {
            value = Self.slowParse(bytes, from: negative ? start + 1 : start, to: position)
        }
        return negative ? -value : value
    }

    /// Reads a number that must be finite as a Float32.
    @inlinable
    public mutating func readFloat() throws -> Float {
        let start = position
        let f = Float(try readDouble())
        guard f.isFinite else { throw JSONError.numberOutOfRange(offset: start, type: "Float32") }
        return f
    }

    /// Reads a non-negative integer that fits in UInt64 (no fraction or exponent).
    public mutating func readUInt64() throws -> UInt64 {
        _ = peek()
        let start = position
        guard position < bytes.count else { throw JSONError.unexpectedEnd(offset: position) }
        if bytes[position] == UInt8(ascii: "-") { throw JSONError.numberOutOfRange(offset: start, type: "an unsigned 64-bit id") }
        var v: UInt64 = 0
        var n = 0
        while position < bytes.count, case let c = bytes[position], c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { throw JSONError.numberOutOfRange(offset: start, type: "an unsigned 64-bit id") }
            v = a
            n += 1
            position += 1
        }
        guard n > 0 else { throw JSONError.syntax(offset: start, expected: "an unsigned integer") }
        if n > 1 && bytes[start] == UInt8(ascii: "0") { throw JSONError.syntax(offset: start, expected: "a number without leading zeros") }
        if position < bytes.count, case let c = bytes[position],
           c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            throw JSONError.syntax(offset: start, expected: "an integer (no fraction or exponent)")
        }
        return v
    }

    /// Reads an integer in `range`.
    public mutating func readInt(in range: ClosedRange<Int>, name: String) throws -> Int {
        let start = position
        let d = try readDouble()
        guard d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw JSONError.numberOutOfRange(offset: start, type: "\(name) (an integer in \(range.lowerBound)...\(range.upperBound))")
        }
        return Int(d)
    }

    /// Reads an array of finite numbers into `out` (appending), at most `limit` elements.
    /// Well-formed arrays of plain numbers take a tight loop (`scanFloatArray`); anything else is
    /// re-read by the general path, which reports the precise error.
    public mutating func readFloatArray(into out: inout [Float], limit: Int) throws {
        let start = position
        let before = out.count
        if scanFloatArray(into: &out, limit: limit) == .complete { return }
        position = start
        out.removeSubrange(before...)
        try readArray(limit: limit) { s in out.append(try s.readFloat()) }
    }

    /// What `scanFloatArray` found.
    public enum FloatArrayScan: Equatable {
        /// The whole array was read and every element is a finite Float32.
        case complete
        /// Something else (not an array, a non-number, a non-finite value, too many elements,
        /// a syntax error): the caller should rewind and read it with the general path.
        case needsGeneralPath
    }

    /// The fast path for query vectors: one C loop over the bytes (`sk_parse_float_array`,
    /// ~13 ns per number with AVX2, ~19 ns without), appending to `out`. On `.needsGeneralPath`,
    /// `position` and `out` are unchanged.
    public mutating func scanFloatArray(into out: inout [Float], limit: Int) -> FloatArrayScan {
        guard peek() == UInt8(ascii: "["), let base = bytes.baseAddress else { return .needsGeneralPath }
        // A flat array of numbers ends at the first ']'; n numbers take at least 2n bytes of it.
        guard let close = memchr(base + position, Int32(UInt8(ascii: "]")), bytes.count - position) else { return .needsGeneralPath }
        let available = UnsafeRawPointer(base + position).distance(to: UnsafeRawPointer(close)) + 1
        let capacity = min(limit, available / 2 + 1)
        var parsed = 0
        let consumed = withUnsafeTemporaryAllocation(of: Float.self, capacity: capacity) { tmp -> Int in
            let n = sk_parse_float_array(base + position, available, tmp.baseAddress!, capacity, &parsed)
            if n >= 0 { out.append(contentsOf: tmp[0..<parsed]) }
            return n
        }
        guard consumed >= 0 else { return .needsGeneralPath }
        position += consumed
        return .complete
    }

    @usableFromInline static let powersOfTen: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }

    private static func slowParse(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Double {
        var text = [CChar](repeating: 0, count: to - from + 1)
        for i in from..<to { text[i - from] = CChar(bitPattern: bytes[i]) }
        return strtod(text, nil)
    }
}
