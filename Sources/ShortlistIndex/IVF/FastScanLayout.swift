import CShortlistKernels

/// Where 4-bit codes live in the fast-scan block layout read by `sk_pq4_scan`.
///
/// Codes are grouped in blocks of 32. Sub-quantizers are padded to an even count `mpad` (the
/// padding reads table entries of zero). In block b, sub-quantizer j is 16 bytes at
/// `(b · mpad + j) · 16`: byte i holds code i of the block in its low nibble and code 16 + i in
/// its high nibble. A list of `n` codes takes `⌈n / 32⌉ · mpad · 16` bytes, so m/2 bytes per
/// code once blocks are full.
enum FastScanLayout {
    /// Codes per block.
    static let block = Int(SK_PQ4_BLOCK)
    /// The largest `m`: sums of 255 per sub-quantizer must fit in 16 bits.
    static let maxM = 256

    /// Sub-quantizers rounded up to even.
    static func paddedM(_ m: Int) -> Int { (m + 1) & ~1 }

    /// Bytes of one block of 32 codes.
    static func blockBytes(m: Int) -> Int { paddedM(m) * 16 }

    /// Bytes that `count` codes occupy.
    static func byteCount(codes count: Int, m: Int) -> Int { (count + block - 1) / block * blockBytes(m: m) }

    /// Appends one code (`m` values below 16) as code number `position` of `packed`, which holds
    /// `position` codes already; starts a zeroed block when needed.
    static func append(_ code: UnsafePointer<UInt8>, m: Int, position: Int, to packed: inout [UInt8]) {
        if position % block == 0 { packed.append(contentsOf: repeatElement(0, count: blockBytes(m: m))) }
        let base = position / block * blockBytes(m: m), slot = position % block
        for j in 0..<m {
            let byte = base + j * 16 + slot % 16
            packed[byte] |= slot < 16 ? code[j] & 15 : (code[j] & 15) << 4
        }
    }

    /// Value of sub-quantizer `j` in code number `position`.
    static func value(_ packed: UnsafePointer<UInt8>, m: Int, position: Int, sub j: Int) -> UInt8 {
        let slot = position % block
        let byte = packed[position / block * blockBytes(m: m) + j * 16 + slot % 16]
        return slot < 16 ? byte & 15 : byte >> 4
    }
}
