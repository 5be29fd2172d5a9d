import CShortlistKernels
import ShortlistCore

/// The rows of an HNSW graph in stored form, in one aligned buffer, as float32 or float16, and
/// for `.sq8` also as 8-bit codes (`codes`, `codeStride` bytes per row).
///
/// Float16 rows hold `value × scale`, where `scale` is a power of two chosen so the largest
/// magnitude sits near 2¹⁰: far from overflow (65504) and above the subnormal range, and exact
/// to apply. Queries are scaled the same way (`prepareQuery`), so every graph distance is the
/// true one times `scale²`; callers divide it back out for reported distances.
final class HNSWVectorStore {
    let storage: VectorStorage
    /// Components per row.
    let dimension: Int
    private(set) var count = 0
    private(set) var capacity: Int
    private(set) var floats: UnsafeMutablePointer<Float>
    private(set) var halves: UnsafeMutablePointer<UInt16>
    /// Stored = value × scale (1 for float32).
    private(set) var scale: Float = 1
    /// `.sq8`: bytes per code row, `dimension` rounded up to a multiple of 32 (zero-padded), as
    /// the integer kernels read it; 0 for the other storages.
    let codeStride: Int
    /// `.sq8`: one u8 per component, `capacity × codeStride`.
    private(set) var codes: UnsafeMutablePointer<UInt8>
    /// `.sq8`: ‖decoded row‖² per row (the L2 estimate's row term).
    private(set) var codeNorms: UnsafeMutablePointer<Float>
    /// `.sq8`: per component (stored, scaled form), the value of code 0 and the step between
    /// codes; a component decodes to lower + code × step.
    var codeLower: [Float]
    var codeStep: [Float]
    /// `.sq8`: how many rows the code ranges were fitted on (0: not fitted, and the walk reads
    /// the float16 rows). The ranges are fitted again when added rows clamp (`refitCodesIfClamped`).
    var codeFittedRows = 0
    /// `.sq8`: rows encoded since the last fit with a component clamped by more than a step.
    var clampedSinceFit = 0
    /// Buffers used in place from a file mapping (`adopt`).
    private var buffers = BorrowedBuffers()

    /// Largest stored magnitude allowed before the scale is lowered.
    static let halfCeiling: Float = 16_384
    /// Magnitude the scale aims the largest value at.
    static let halfTarget: Float = 1024

    init(storage: VectorStorage, dimension: Int, capacity: Int) {
        self.storage = storage
        self.dimension = dimension
        self.capacity = max(capacity, 16)
        codeStride = storage == .sq8 ? (dimension + 31) / 32 * 32 : 0
        floats = AlignedMemory.allocate(Float.self, count: storage == .float32 ? self.capacity * dimension : 1)
        halves = AlignedMemory.allocate(UInt16.self, count: storage != .float32 ? self.capacity * dimension : 1)
        codes = AlignedMemory.allocate(UInt8.self, count: max(self.capacity * codeStride, 1), repeating: 0)
        codeNorms = AlignedMemory.allocate(Float.self, count: storage == .sq8 ? self.capacity : 1, repeating: 0)
        codeLower = [Float](repeating: 0, count: storage == .sq8 ? dimension : 0)
        codeStep = codeLower
    }

    deinit {
        buffers.free(floats)
        buffers.free(halves)
        buffers.free(codes)
        buffers.free(codeNorms)
    }

    /// Bytes per stored component of the float rows: 4, or 2 for half precision.
    var bytesPerComponent: Int { storage == .float32 ? 4 : 2 }

    var bytes: Int { capacity * (dimension * bytesPerComponent + (storage == .sq8 ? codeStride + 4 : 0)) }

    /// Chooses the float16 scale for data whose largest magnitude is `maxAbs` (no rows stored yet).
    func chooseScale(maxAbs: Float) {
        precondition(count == 0)
        scale = Self.scale(for: maxAbs)
    }

    static func scale(for maxAbs: Float) -> Float {
        guard maxAbs > 0, maxAbs.isFinite else { return 1 }
        return Float(sign: .plus, exponent: Int((halfTarget / maxAbs).exponent), significand: 1)
    }

    func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        let newCapacity = max(rows, capacity + capacity / 2)
        switch storage {
        case .float32: floats = buffers.grow(floats, oldCount: count * dimension, newCount: newCapacity * dimension, fill: 0)
        case .float16, .sq8: halves = buffers.grow(halves, oldCount: count * dimension, newCount: newCapacity * dimension, fill: 0)
        }
        if storage == .sq8 {
            codes = buffers.grow(codes, oldCount: count * codeStride, newCount: newCapacity * codeStride, fill: 0)
            codeNorms = buffers.grow(codeNorms, oldCount: count, newCount: newCapacity, fill: 0)
        }
        capacity = newCapacity
    }

    /// Reorders the rows: row `i` becomes what row `order[i]` was (`order` is a permutation of
    /// 0..<count). Rows, codes and norms move; ranges and scale stay.
    func permuteRows(_ order: [UInt32]) {
        precondition(order.count == count)
        func permuted<T>(_ old: UnsafeMutablePointer<T>, stride: Int, fill: T) -> UnsafeMutablePointer<T> {
            let new = AlignedMemory.allocate(T.self, count: max(capacity * stride, 1), repeating: fill)
            for (i, r) in order.enumerated() { (new + i * stride).update(from: old + Int(r) * stride, count: stride) }
            buffers.free(old)
            return new
        }
        switch storage {
        case .float32: floats = permuted(floats, stride: dimension, fill: 0)
        case .float16, .sq8: halves = permuted(halves, stride: dimension, fill: 0)
        }
        if storage == .sq8 {
            codes = permuted(codes, stride: codeStride, fill: 0)
            codeNorms = permuted(codeNorms, stride: 1, fill: 0)
        }
    }

    /// Appends rows filled with zeros and returns the first new row.
    func appendRows(_ n: Int) -> Int {
        reserve(count + n)
        count += n
        return count - n
    }

    /// Writes row `r` from `dimension` unscaled floats.
    func setRow(_ r: Int, from values: UnsafePointer<Float>) {
        switch storage {
        case .float32:
            (floats + r * dimension).update(from: values, count: dimension)
        case .float16, .sq8:
            var maxAbs: Float = 0
            for i in 0..<dimension { maxAbs = max(maxAbs, abs(values[i])) }
            if maxAbs * scale > Self.halfCeiling { rescale(to: Self.scale(for: maxAbs)) }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
                for i in 0..<dimension { tmp[i] = values[i] * scale }
                sk_f32_to_f16(tmp.baseAddress!, halves + r * dimension, dimension)
            }
            if codeFittedRows > 0 && encodeRow(r) { clampedSinceFit += 1 }
        }
    }

    /// Reads row `r` as unscaled floats into `out`.
    func readRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float32:
            out.update(from: floats + r * dimension, count: dimension)
        case .float16, .sq8:
            sk_f16_to_f32(halves + r * dimension, out, dimension)
            let inverse = 1 / scale
            for i in 0..<dimension { out[i] *= inverse }
        }
    }

    /// Row `r` in stored (scaled) form: in place for float32 rows (no copy), otherwise decoded
    /// into `buffer` (`dimension` floats).
    @inline(__always)
    func scaledRow(_ r: Int, buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if storage == .float32 { return UnsafePointer(floats + r * dimension) }
        readScaledRow(r, into: buffer)
        return UnsafePointer(buffer)
    }

    /// Reads row `r` in stored (scaled) form, for distances between stored rows.
    func readScaledRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float32: out.update(from: floats + r * dimension, count: dimension)
        case .float16, .sq8: sk_f16_to_f32(halves + r * dimension, out, dimension)
        }
    }

    /// Lowers the scale (a power of two, so the change is exact) and rewrites every row.
    private func rescale(to newScale: Float) {
        let factor = newScale / scale
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
            for r in 0..<count {
                sk_f16_to_f32(halves + r * dimension, tmp.baseAddress!, dimension)
                for i in 0..<dimension { tmp[i] *= factor }
                sk_f32_to_f16(tmp.baseAddress!, halves + r * dimension, dimension)
            }
        }
        scale = newScale
        // The code ranges live in the scaled space: fit them again.
        if codeFittedRows > 0 { fitCodes() }
    }

    @inline(__always)
    func innerProduct(_ q: UnsafePointer<Float>, _ r: Int, components: Int) -> Float {
        storage == .float32 ? sk_ip(q, floats + r * dimension, components) : sk_ip_f16(q, halves + r * dimension, components)
    }

    /// `‖q − row‖²` (scaled query against stored row).
    @inline(__always)
    func l2Squared(_ q: UnsafePointer<Float>, _ r: Int) -> Float {
        storage == .float32 ? sk_l2sq(q, floats + r * dimension, dimension) : sk_l2sq_f16(q, halves + r * dimension, dimension)
    }

    /// Batch versions over rows named by `ids`, prefetching ahead.
    @inline(__always)
    func innerProducts(_ q: UnsafePointer<Float>, _ ids: UnsafePointer<UInt32>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        if storage == .float32 { sk_ip_ids(q, floats, dimension, ids, n, out) } else { sk_ip_f16_ids(q, halves, dimension, ids, n, out) }
    }

    /// Squared L2 distances; a float32 row whose partial sum reaches `bound` may report that
    /// partial sum instead (exact for callers that reject candidates at or beyond `bound`).
    @inline(__always)
    func l2Squareds(_ q: UnsafePointer<Float>, _ ids: UnsafePointer<UInt32>, _ n: Int, bound: Float, _ out: UnsafeMutablePointer<Float>) {
        if storage == .float32 {
            sk_l2sq_ids_bounded(q, floats, dimension, ids, n, bound, out)
        } else {
            sk_l2sq_f16_ids(q, halves, dimension, ids, n, out)
        }
    }


    /// The raw stored bytes of every row (for saving).
    var storedBytes: UnsafeRawBufferPointer {
        storage == .float32
            ? UnsafeRawBufferPointer(start: floats, count: count * dimension * 4)
            : UnsafeRawBufferPointer(start: halves, count: count * dimension * 2)
    }

    /// `.sq8`: the code ranges as `2 × dimension` floats (lower, then step), for saving.
    var codeRangeFloats: [Float] { codeLower + codeStep
    }

    /// Replaces the contents with `rows` stored rows from a file (same storage), and the scale.
    func load(rows: Int, bytes: UnsafeRawBufferPointer, scale: Float) {
        precondition(count == 0 && bytes.count == rows * dimension * bytesPerComponent)
        reserve(rows)
        let destination = storage == .float32 ? UnsafeMutableRawPointer(floats) : UnsafeMutableRawPointer(halves)
        if rows > 0 { destination.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count = rows
        self.scale = scale
    }

    /// Uses `rows` stored rows in place from `mapping` (a file's section, 64-byte aligned, in a
    /// private writable mapping) instead of copying them; the store holds no rows yet. With
    /// `codesFollow`, `adoptCodes` is called next and supplies the codes.
    func adopt(rows: Int, bytes: UnsafeRawBufferPointer, scale: Float, mapping: MappedFile, codesFollow: Bool) {
        precondition(count == 0 && mapping.copyOnWrite && bytes.count == rows * dimension * bytesPerComponent)
        guard rows > 0, let base = bytes.baseAddress else { return load(rows: rows, bytes: bytes, scale: scale) }
        let p = UnsafeMutableRawPointer(mutating: base)
        if storage == .float32 {
            buffers.free(floats)
            floats = p.bindMemory(to: Float.self, capacity: rows * dimension)
            buffers.borrow(floats, from: mapping)
        } else {
            buffers.free(halves)
            halves = p.bindMemory(to: UInt16.self, capacity: rows * dimension)
            buffers.borrow(halves, from: mapping)
        }
        if storage == .sq8 && !codesFollow && rows > capacity {
            // Every buffer holds `capacity` rows.
            codes = buffers.grow(codes, oldCount: 0, newCount: rows * codeStride, fill: 0)
            codeNorms = buffers.grow(codeNorms, oldCount: 0, newCount: rows, fill: 0)
        }
        capacity = rows
        count = rows
        self.scale = scale
    }

    /// `loadCodes` in place: the codes and norms are used from `mapping` (see `adopt`).
    func adoptCodes(lower: [Float], step: [Float], fittedRows: Int, codes bytes: UnsafeRawBufferPointer, norms: UnsafeRawBufferPointer,
                    mapping: MappedFile) {
        precondition(storage == .sq8 && mapping.copyOnWrite && bytes.count == count * codeStride && norms.count == count * 4)
        guard count > 0, let codeBase = bytes.baseAddress, let normBase = norms.baseAddress else {
            return loadCodes(lower: lower, step: step, fittedRows: fittedRows, codes: bytes, norms: norms)
        }
        precondition(capacity == count, "rows adopted first")
        takeRanges(lower: lower, step: step, fittedRows: fittedRows)
        clampedSinceFit = 0
        buffers.free(codes)
        buffers.free(codeNorms)
        codes = UnsafeMutableRawPointer(mutating: codeBase).bindMemory(to: UInt8.self, capacity: bytes.count)
        codeNorms = UnsafeMutableRawPointer(mutating: normBase).bindMemory(to: Float.self, capacity: count)
        buffers.borrow(codes, from: mapping)
        buffers.borrow(codeNorms, from: mapping)
    }

    /// Index of the first row holding a non-finite value, if any.
    func firstNonFiniteRow() -> Int? {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
            for r in 0..<count {
                readScaledRow(r, into: tmp.baseAddress!)
                if sk_first_nonfinite(tmp.baseAddress!, dimension) < dimension { return r }
            }
            return nil
        }
    }
}
