import CShortlistKernels

/// CRC-32C (Castagnoli) checksums, hardware-accelerated where the CPU has SSE4.2.
public enum Checksum {
    /// The CRC-32C of `bytes`, continuing from `crc` (0 to start).
    @inlinable
    public static func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return sk_crc32c(crc, base, bytes.count)
    }

    /// The CRC-32C of a byte array.
    public static func crc32c(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { crc32c($0, continuing: crc) }
    }
}
