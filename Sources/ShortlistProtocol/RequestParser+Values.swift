import ShortlistCore
import ShortlistFeatures
import ShortlistIndex

/// Typed readers: each checks the JSON type before consuming anything, so a wrong type is
/// reported and the rest of the line still read.
extension RequestParser {
    static func kind(_ s: inout JSONScanner) -> UInt8 { s.peek() ?? 0 }

    static func isNumberStart(_ c: UInt8) -> Bool { c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) }

    static func string(_ s: inout JSONScanner, _ name: String) throws -> String {
        guard kind(&s) == UInt8(ascii: "\"") else { throw ProtocolError(.invalidRequest, "'\(name)' must be a string") }
        return try s.readString()
    }

    static func bool(_ s: inout JSONScanner, _ name: String) throws -> Bool {
        let c = kind(&s)
        guard c == UInt8(ascii: "t") || c == UInt8(ascii: "f") else { throw ProtocolError(.invalidRequest, "'\(name)' must be true or false") }
        return try s.readBool()
    }

    static func integer(_ s: inout JSONScanner, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard isNumberStart(kind(&s)) else { throw ProtocolError(.invalidRequest, "'\(name)' must be an integer") }
        let d = try s.readDouble()
        guard d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw ProtocolError(.invalidParameter, "'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound), not \(d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d))")
        }
        return Int(d)
    }

    static func id(_ s: inout JSONScanner, _ name: String) throws -> UInt64 {
        guard isNumberStart(kind(&s)) else { throw ProtocolError(.invalidRequest, "'\(name)' must be an unsigned 64-bit integer") }
        let start = s.position
        do {
            return try s.readUInt64()
        } catch is JSONError {
            // Negative, fractional, exponent or too large: valid JSON perhaps, but not an id.
            s.position = start
            try s.skipValue()
            throw ProtocolError(.invalidRequest, "'\(name)' must be an unsigned 64-bit integer")
        }
    }

    /// A vector: an array of numbers, or a string of base64 float32 (`Base64Vector`).
    func readVector(_ s: inout JSONScanner, _ name: String) throws -> [Float] {
        let kind = Self.kind(&s)
        if kind == UInt8(ascii: "\"") { return try Base64Vector.read(&s, name: name, limit: limits.maximumDimension) }
        guard kind == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an array of numbers or a base64 string of float32 values") }
        var out: [Float] = []
        out.reserveCapacity(512)
        let start = s.position
        if s.scanFloatArray(into: &out, limit: limits.maximumDimension) == .complete { return out }
        // Rewind and read element by element for a precise error.
        s.position = start
        out.removeAll(keepingCapacity: true)
        var bad: ProtocolError?
        do {
            try s.readArray(limit: limits.maximumDimension) { s in
                let c = s.peek() ?? 0
                guard Self.isNumberStart(c) else {
                    if bad == nil { bad = ProtocolError(.invalidRequest, "'\(name)' must hold only numbers (element \(out.count) is not one)") }
                    try s.skipValue()
                    out.append(0)
                    return
                }
                let numberStart = s.position
                let d = try s.readDouble()
                let f = Float(d)
                if !f.isFinite && bad == nil {
                    bad = ProtocolError(.invalidVector, "'\(name)' element \(out.count) (\(String(decoding: s.bytes[numberStart..<s.position], as: UTF8.self))) is not a finite Float32")
                }
                out.append(f)
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'\(name)' has more than \(limits.maximumDimension) components")
        }
        if let bad { throw bad }
        return out
    }

    func readVectors(_ s: inout JSONScanner, _ r: inout Members) throws {
        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'vectors' must be an array of vectors (arrays of numbers or base64 strings)") }
        var all: [Float] = []
        var count = 0, length = -1
        var bad: ProtocolError?
        let start = s.position
        do {
            try s.readArray(limit: limits.maximumBatch) { s in
                do {
                    let v = try readVector(&s, "vectors[\(count)]")
                    if length < 0 { length = v.count }
                    if v.count != length && bad == nil {
                        bad = ProtocolError(.dimensionMismatch, "'vectors' rows differ in length (\(length) and \(v.count))")
                    }
                    all.append(contentsOf: v)
                } catch let e as ProtocolError {
                    if bad == nil { bad = e }
                    try Self.skipRest(&s)
                }
                count += 1
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'vectors' holds more than \(limits.maximumBatch) vectors (the server's batch limit)")
        }
        if let bad { throw bad }
        guard count > 0 else { throw ProtocolError(.invalidRequest, "'vectors' is empty") }
        r.vectors = all
        r.vectorCount = count
    }

    func readIds(_ s: inout JSONScanner, _ name: String) throws -> [UInt64] {
        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an array of ids") }
        var out: [UInt64] = []
        var bad: ProtocolError?
        let start = s.position
        do {
            try s.readArray(limit: limits.maximumItems) { s in
                do { out.append(try Self.id(&s, name)) } catch let e as ProtocolError {
                    if bad == nil { bad = e }
                    try Self.skipRest(&s)
                }
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'\(name)' holds more than \(limits.maximumItems) ids")
        }
        if let bad { throw bad }
        return out
    }

    /// Most members a `features` or `context` object may have.
    static let maximumFeatureMembers = 64

    /// A `features` / `context` object: name → string, number, boolean or list of strings
    /// (null members are left out).
    func readFeatures(_ s: inout JSONScanner, _ name: String) throws -> [String: FeatureValue] {
        var out: [String: FeatureValue] = [:]
        try Self.readMembers(&s, of: name) { s, key in
            guard out.count < Self.maximumFeatureMembers else {
                try s.skipValue()
                throw ProtocolError(.tooLarge, "'\(name)' has more than \(Self.maximumFeatureMembers) members")
            }
            let c = Self.kind(&s)
            guard c != UInt8(ascii: "{") else {
                try s.skipValue()
                throw ProtocolError(.invalidRequest, "'\(name).\(key)' must be a string, number, boolean or list of strings")
            }
            let start = s.position
            do {
                if let v = try FeatureValue.read(&s, name: "\(name).\(key)") { out[key] = v }
            } catch FeatureError.badSchema(let reason) {
                // Rewind, so the rest of the request is still read.
                s.position = start
                try s.skipValue()
                throw ProtocolError(.invalidRequest, reason + " (a value is a string, number, boolean or list of strings)")
            }
        }
        return out
    }

    /// Reads an object's members with `body`; a member's `ProtocolError` is kept (the first one
    /// is thrown at the end) and the rest of the object is still read, so the request's id can be.
    static func readMembers(_ s: inout JSONScanner, of name: String, _ body: (inout JSONScanner, String) throws -> Void) throws {
        guard kind(&s) == UInt8(ascii: "{") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an object") }
        var bad: ProtocolError?
        var seen: [String] = []
        try s.readObject { s, key in
            do {
                guard !seen.contains(key) else {
                    try s.skipValue()
                    throw ProtocolError(.invalidRequest, "member '\(name).\(key)' appears twice")
                }
                seen.append(key)
                try body(&s, key)
            } catch let e as ProtocolError {
                if bad == nil { bad = e }
                try skipRest(&s)
            }
        }
        if let bad { throw bad }
    }

    /// A match value: a string, number or boolean.
    static func payloadValue(_ s: inout JSONScanner, _ name: String) throws -> PayloadValue {
        let c = kind(&s)
        if c == UInt8(ascii: "\"") { return .string(try s.readString()) }
        if c == UInt8(ascii: "t") || c == UInt8(ascii: "f") { return .bool(try s.readBool()) }
        if isNumberStart(c) {
            let v = try s.readDouble()
            guard v.isFinite else { throw ProtocolError(.invalidParameter, "'\(name)' is not finite") }
            return .number(v)
        }
        throw ProtocolError(.invalidRequest, "'\(name)' must be a string, number or boolean")
    }
}
