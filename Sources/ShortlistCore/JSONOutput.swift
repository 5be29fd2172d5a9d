/// Builds JSON text into a byte array by hand: the reply path costs ~1 µs this way against
/// ~20 µs through `JSONEncoder` (docs/performance.md §6). Callers produce well-formed structure;
/// this type handles escaping and number formatting.
public struct JSONOutput: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    @inline(__always)
    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// A JSON string, escaping quotes, backslashes and control characters.
    public mutating func string(_ s: String) {
        // Most strings (ids, names, base64) need no escape: copied whole.
        var text = s
        let copied: Bool = text.withUTF8 { utf8 in
            for c in utf8 where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { return false }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: utf8)
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if copied { return }
        bytes.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(c >> 4)])
                bytes.append(Self.hex[Int(c & 15)])
            default: bytes.append(c)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func int(_ v: Int) {
        if v < 0 {
            bytes.append(UInt8(ascii: "-"))
            uint(UInt64(v.magnitude))
        } else {
            uint(UInt64(v))
        }
    }

    public mutating func uint(_ v: UInt64) {
        if v < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(v))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                     UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &digits) { p in
            let d = p.bindMemory(to: UInt64.self)
            while x > 0 { d[n] = x % 10; x /= 10; n += 1 }
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(UInt8(ascii: "0") + UInt8(d[i])) }
        }
    }

    /// A finite float in shortest round-trip form (callers never pass NaN or infinity; they are
    /// written as null to keep the output valid JSON).
    public mutating func float(_ v: Float) {
        guard v.isFinite else { raw("null"); return }
        if v == v.rounded(), abs(v) < 1e7 {
            int(Int(v))
            return
        }
        bytes.append(contentsOf: v.description.utf8)
    }

    public mutating func double(_ v: Double) {
        guard v.isFinite else { raw("null"); return }
        bytes.append(contentsOf: v.description.utf8)
    }

    public mutating func bool(_ v: Bool) { v ? raw("true") : raw("false") }

    /// `"key":` (keys are plain ASCII chosen by the server).
    @inline(__always)
    public mutating func key(_ k: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        raw(k)
        raw("\":")
    }

    public mutating func floats(_ v: [Float]) {
        bytes.append(UInt8(ascii: "["))
        for (i, x) in v.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            float(x)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func comma() { bytes.append(UInt8(ascii: ",")) }
}
