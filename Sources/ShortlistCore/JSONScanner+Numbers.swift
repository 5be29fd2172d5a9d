import CShortlistKernels
#if canImport(Glibc)
import Glibc
#endif

/// Numbers: exact fast paths, `strtod` for the rest, and whole float arrays at once.
extension JSONScanner {
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
