/// Errors reading binary data.
public enum BinaryReaderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `needed` more bytes were required at `offset`, but only `available` remain.
    case truncated(offset: Int, needed: Int, available: Int)
    /// A length-prefixed string is not valid UTF-8.
    case invalidUTF8(offset: Int)

    public var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            return "truncated: needed \(needed) bytes at offset \(offset), only \(available) remain"
        case let .invalidUTF8(offset):
            return "invalid UTF-8 text at offset \(offset)"
        }
    }
}

/// Reads little-endian values from a byte buffer with bounds checks; never reads past the end.
public struct BinaryReader {
    /// The whole buffer.
    public let bytes: UnsafeRawBufferPointer
    /// The next offset to read.
    public var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Bytes left after `offset`.
    public var remaining: Int { bytes.count - offset }

    /// Throws `truncated` unless `n` bytes remain.
    public func require(_ n: Int) throws {
        guard n >= 0, n <= remaining else {
            throw BinaryReaderError.truncated(offset: offset, needed: n, available: max(remaining, 0))
        }
    }

    public mutating func readUInt8() throws -> UInt8 { try read(UInt8.self) }
    public mutating func readUInt16() throws -> UInt16 { UInt16(littleEndian: try read(UInt16.self)) }
    public mutating func readUInt32() throws -> UInt32 { UInt32(littleEndian: try read(UInt32.self)) }
    public mutating func readUInt64() throws -> UInt64 { UInt64(littleEndian: try read(UInt64.self)) }
    public mutating func readInt32() throws -> Int32 { Int32(littleEndian: try read(Int32.self)) }
    public mutating func readFloat() throws -> Float { Float(bitPattern: try readUInt32()) }

    /// Reads a UInt32-length-prefixed UTF-8 string.
    public mutating func readString() throws -> String {
        let start = offset
        let n = Int(try readUInt32())
        let raw = try readBytes(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw BinaryReaderError.invalidUTF8(offset: start) }
        return s
    }

    /// A view of the next `n` bytes (no copy); advances past them.
    public mutating func readBytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        try require(n)
        let view = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
        offset += n
        return view
    }

    /// Skips `n` bytes.
    public mutating func skip(_ n: Int) throws {
        try require(n)
        offset += n
    }

    private mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return v
    }
}
