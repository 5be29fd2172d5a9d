/// Builds little-endian binary data in memory (for headers and small sections).
public struct BinaryWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ v: UInt8) { bytes.append(v) }
    public mutating func write(_ v: UInt16) { append(v.littleEndian) }
    public mutating func write(_ v: UInt32) { append(v.littleEndian) }
    public mutating func write(_ v: UInt64) { append(v.littleEndian) }
    public mutating func write(_ v: Int32) { append(v.littleEndian) }
    public mutating func write(_ v: Float) { append(v.bitPattern.littleEndian) }

    /// Writes a UTF-8 string prefixed by its byte length (UInt32).
    public mutating func write(_ s: String) {
        let utf8 = Array(s.utf8)
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Appends raw bytes.
    public mutating func write(bytes raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// Appends zero bytes until the length is a multiple of `alignment`.
    public mutating func pad(to alignment: Int) {
        let r = bytes.count % alignment
        if r != 0 { bytes.append(contentsOf: [UInt8](repeating: 0, count: alignment - r)) }
    }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }
}
