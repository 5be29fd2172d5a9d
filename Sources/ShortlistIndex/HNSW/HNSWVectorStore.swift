import CShortlistKernels
import ShortlistCore

/// How HNSW keeps its vectors in memory.
public enum VectorStorage: String, Sendable, Equatable, CaseIterable {
    /// Float32, exact. 4 bytes per component.
    case float32
    /// IEEE half precision (FAISS's `SQfp16`), 2 bytes per component: half the memory and half
    /// the bytes each graph step reads, so searches run faster where memory bandwidth bounds them.
    /// Values keep 11 significant bits (relative error ≤ 2⁻¹¹); integers up to 2048 are exact.
    case float16
}

/// The rows of an HNSW graph in stored form, in one aligned buffer, as float32 or float16.
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

    /// Largest stored magnitude allowed before the scale is lowered.
    static let halfCeiling: Float = 16_384
    /// Magnitude the scale aims the largest value at.
    static let halfTarget: Float = 1024

    init(storage: VectorStorage, dimension: Int, capacity: Int) {
        self.storage = storage
        self.dimension = dimension
        self.capacity = max(capacity, 16)
        floats = AlignedMemory.allocate(Float.self, count: storage == .float32 ? self.capacity * dimension : 1)
        halves = AlignedMemory.allocate(UInt16.self, count: storage == .float16 ? self.capacity * dimension : 1)
    }

    deinit {
        AlignedMemory.free(floats)
        AlignedMemory.free(halves)
    }

    var bytes: Int { capacity * dimension * (storage == .float32 ? 4 : 2) }

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
        case .float32: floats = AlignedMemory.grow(floats, oldCount: count * dimension, newCount: newCapacity * dimension, fill: 0)
        case .float16: halves = AlignedMemory.grow(halves, oldCount: count * dimension, newCount: newCapacity * dimension, fill: 0)
        }
        capacity = newCapacity
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
        case .float16:
            var maxAbs: Float = 0
            for i in 0..<dimension { maxAbs = max(maxAbs, abs(values[i])) }
            if maxAbs * scale > Self.halfCeiling { rescale(to: Self.scale(for: maxAbs)) }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
                for i in 0..<dimension { tmp[i] = values[i] * scale }
                sk_f32_to_f16(tmp.baseAddress!, halves + r * dimension, dimension)
            }
        }
    }

    /// Reads row `r` as unscaled floats into `out`.
    func readRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float32:
            out.update(from: floats + r * dimension, count: dimension)
        case .float16:
            sk_f16_to_f32(halves + r * dimension, out, dimension)
            let inverse = 1 / scale
            for i in 0..<dimension { out[i] *= inverse }
        }
    }

    /// Reads row `r` in stored (scaled) form, for distances between stored rows.
    func readScaledRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float32: out.update(from: floats + r * dimension, count: dimension)
        case .float16: sk_f16_to_f32(halves + r * dimension, out, dimension)
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

    /// Replaces the contents with `rows` stored rows from a file (same storage), and the scale.
    func load(rows: Int, bytes: UnsafeRawBufferPointer, scale: Float) {
        precondition(count == 0 && bytes.count == rows * dimension * (storage == .float32 ? 4 : 2))
        reserve(rows)
        let destination = storage == .float32 ? UnsafeMutableRawPointer(floats) : UnsafeMutableRawPointer(halves)
        if rows > 0 { destination.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count = rows
        self.scale = scale
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
