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
    private(set) var codeLower: [Float]
    private(set) var codeStep: [Float]
    /// `.sq8`: how many rows the code ranges were fitted on (0: not fitted, and the walk reads
    /// the float16 rows). The ranges are fitted again when added rows clamp (`refitCodesIfClamped`).
    private(set) var codeFittedRows = 0
    /// `.sq8`: rows encoded since the last fit with a component clamped by more than a step.
    private(set) var clampedSinceFit = 0
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

    // MARK: 8-bit codes (`.sq8`)

    /// Fits each component's range (min to max over the stored rows, 256 steps) and encodes
    /// every row. A no-op for the other storages or without rows.
    func fitCodes() {
        guard storage == .sq8, count > 0 else { return }
        var lower = [Float](repeating: .infinity, count: dimension), upper = [Float](repeating: -.infinity, count: dimension)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
            for r in 0..<count {
                readScaledRow(r, into: tmp.baseAddress!)
                for j in 0..<dimension {
                    lower[j] = min(lower[j], tmp[j])
                    upper[j] = max(upper[j], tmp[j])
                }
            }
        }
        setCodeRanges(lower: lower, step: (0..<dimension).map { (upper[$0] - lower[$0]) / 255 }, fittedRows: count)
    }

    /// Fits the code ranges again once rows clamped onto their edges (a component beyond the
    /// range by more than a step) exceed 1/64 of the rows they were fitted on (at least 16), or
    /// for the first rows of an index built empty. A drifting catalogue's new rows are then told
    /// apart by the walk instead of collapsing onto the range's edge; a refit costs one pass over
    /// the rows, amortised over the rows added since the last.
    func refitCodesIfClamped() {
        guard storage == .sq8, count > 0 else { return }
        if codeFittedRows == 0 || clampedSinceFit > max(16, codeFittedRows / 64) { fitCodes() }
    }

    /// Sets the code ranges (`dimension` each; from a file, or fitted) and encodes every row.
    func setCodeRanges(lower: [Float], step: [Float], fittedRows: Int) {
        takeRanges(lower: lower, step: step, fittedRows: fittedRows)
        guard fittedRows > 0 else { return }
        for r in 0..<count { _ = encodeRow(r) }
        clampedSinceFit = 0
    }

    private func takeRanges(lower: [Float], step: [Float], fittedRows: Int) {
        precondition(storage == .sq8 && lower.count == dimension && step.count == dimension)
        codeLower = lower
        codeStep = step
        codeFittedRows = fittedRows
    }

    /// Sets the code ranges and takes every row's codes (`count × codeStride` bytes) and decoded
    /// norms (`count` floats) as saved, instead of encoding the rows again (a file being read).
    func loadCodes(lower: [Float], step: [Float], fittedRows: Int, codes bytes: UnsafeRawBufferPointer, norms: UnsafeRawBufferPointer) {
        precondition(bytes.count == count * codeStride && norms.count == count * 4)
        takeRanges(lower: lower, step: step, fittedRows: fittedRows)
        clampedSinceFit = 0
        if count > 0 {
            UnsafeMutableRawPointer(codes).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            UnsafeMutableRawPointer(codeNorms).copyMemory(from: norms.baseAddress!, byteCount: norms.count)
        }
    }

    /// `.sq8`: the stored codes and norms, for saving.
    var storedCodes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: codes, count: count * codeStride) }
    var storedCodeNorms: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: codeNorms, count: count * 4) }

    /// Writes row `r`'s codes (nearest step, clamped to the range) and its decoded norm; returns
    /// whether a component lay beyond the range by more than a step.
    private func encodeRow(_ r: Int) -> Bool {
        let out = codes + r * codeStride
        var norm: Float = 0, clamped = false
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
            readScaledRow(r, into: tmp.baseAddress!)
            for j in 0..<dimension {
                let step = codeStep[j]
                let exact = step > 0 ? (tmp[j] - codeLower[j]) / step : 0
                let code = min(255, max(0, exact.rounded()))
                clamped = clamped || abs(tmp[j] - (codeLower[j] + code * step)) > max(step, abs(tmp[j]) * 1e-6)
                out[j] = UInt8(code)
                let decoded = codeLower[j] + code * step
                norm += decoded * decoded
            }
        }
        codeNorms[r] = norm
        return clamped
    }

    /// The largest integer query component: Σ|q| · 255 over `codeStride` components then stays
    /// below 2³¹ whatever the kernel's summation order.
    var codeQueryLimit: Float { Float(min(32_767, Int(Int32.max) / (255 * max(codeStride, 1)))) }

    /// Writes the integer form of the stored-form query `q` into `out` (`codeStride` values,
    /// zero-padded) and returns the affine map from its dot product with a code row to the
    /// estimated graph distance: `base + factor · dot`, plus the row's norm for L2 (`l2`), or
    /// the negated inner product otherwise. The query is quantized to `codeQueryLimit` steps
    /// either side (21,931 at 384 components, 10,527 at 800): an error of at most half a step
    /// of its largest component, far below the codes' own.
    func prepareCodeQuery(_ q: UnsafePointer<Float>, l2: Bool, into out: UnsafeMutablePointer<Int16>) -> (base: Float, factor: Float) {
        var largest: Float = 0, offset: Float = 0, norm: Float = 0
        for j in 0..<dimension {
            largest = max(largest, abs(q[j] * codeStep[j]))
            offset += q[j] * codeLower[j]
            norm += q[j] * q[j]
        }
        let alpha = largest > 0 ? codeQueryLimit / largest : 1
        for j in 0..<dimension { out[j] = Int16((q[j] * codeStep[j] * alpha).rounded()) }
        for j in dimension..<codeStride { out[j] = 0 }
        return l2 ? (norm - 2 * offset, -2 / alpha) : (-offset, -1 / alpha)
    }

    /// Estimated distances from a query prepared by `prepareCodeQuery` to the rows in `ids`.
    @inline(__always)
    func codeDistances(_ q: UnsafePointer<Int16>, base: Float, factor: Float, l2: Bool,
                       _ ids: UnsafePointer<UInt32>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        sk_sq8_ids(q, codes, codeStride, ids, n, base, factor, l2 ? UnsafePointer(codeNorms) : nil, out)
    }

    /// `q · row` over the first `components` (scaled query against stored row).
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
