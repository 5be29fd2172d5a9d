import Foundation
import ShortlistCore

/// The binary form of a vector in requests: a JSON string holding standard base64 (RFC 4648,
/// `=` padding optional) of the little-endian float32 values, e.g. `[1, 0.5]` is
/// `"AACAPwAAAD8="`. Exact (no decimal rounding), 4 bytes per value on the wire as 5.3
/// characters instead of ~11 for decimal text, and decoded ~40× faster than decimal numbers
/// are parsed. Accepted wherever a request takes a vector (`vector`, each of `vectors`, and
/// `points[].vector`).
public enum Base64Vector {
    /// Reads the string at the scanner (positioned at its opening quote) as a vector of at most
    /// `limit` components; `name` is the member named in errors.
    static func read(_ s: inout JSONScanner, name: String, limit: Int) throws -> [Float] {
        try withStringContent(&s, name: name) { try decode($0, name: name, limit: limit) }
    }

    /// Hands `body` the text of the JSON string at the scanner (positioned at its opening quote)
    /// and moves past it. Base64 needs no escapes, so the common case reads it in place in the
    /// line; a string with escapes (some encoders write "\/") is unescaped first.
    static func withStringContent<R>(_ s: inout JSONScanner, name: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        guard let base = s.bytes.baseAddress else { throw ProtocolError(.parseError, "the line ended inside '\(name)'") }
        let contentStart = s.position + 1
        if contentStart <= s.bytes.count,
           let close = memchr(base + contentStart, Int32(UInt8(ascii: "\"")), s.bytes.count - contentStart) {
            let end = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(close))
            if memchr(base + contentStart, Int32(UInt8(ascii: "\\")), end - contentStart) == nil {
                s.position = end + 1
                return try body(UnsafeBufferPointer(start: base + contentStart, count: end - contentStart))
            }
        }
        let text = Array(try s.readString().utf8)
        return try text.withUnsafeBufferPointer { try body($0) }
    }

    /// Decodes base64 text into float32 values, refusing bad characters or padding, a byte count
    /// that is not a multiple of 4, more than `limit` values and NaN or infinite values.
    static func decode(_ text: UnsafeBufferPointer<UInt8>, name: String, limit: Int) throws -> [Float] {
        let byteCount = Base64.decodedCount(text)
        guard byteCount <= limit * 4 else {
            throw ProtocolError(.tooLarge, "'\(name)' has more than \(limit) components")
        }
        guard byteCount % 4 == 0 else {
            throw ProtocolError(.invalidVector, "'\(name)' is \(byteCount) bytes of base64, not a whole number of float32 values (4 bytes each)")
        }
        var out = [Float](repeating: 0, count: byteCount / 4)
        let written = out.withUnsafeMutableBytes { Base64.decode(text, into: $0) }
        guard written == byteCount else {
            throw ProtocolError(.invalidVector, "'\(name)' is a string but not base64 of little-endian float32 values (standard alphabet A–Z a–z 0–9 + /, '=' padding)")
        }
        #if _endian(big)
        for i in out.indices { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
        #endif
        do {
            try out.withUnsafeBufferPointer { try VectorMath.validateFinite($0) }
        } catch let VectorError.nonFinite(_, bad) {
            throw ProtocolError(.invalidVector, "'\(name)' element \(bad) (\(out[bad])) is not a finite Float32")
        }
        return out
    }

    /// The base64 form of `values` (little-endian float32), for clients.
    public static func encode(_ values: [Float]) -> String {
        #if _endian(little)
        return values.withUnsafeBytes { Data($0).base64EncodedString() }
        #else
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return Data(bytes).base64EncodedString()
        #endif
    }
}
