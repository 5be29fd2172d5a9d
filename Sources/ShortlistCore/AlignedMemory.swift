#if canImport(Glibc)
import Glibc
#endif

/// Aligned allocations for hot data: 64-byte aligned (one cache line), and 2 MiB aligned with
/// transparent huge pages requested for buffers of 8 MiB or more, which matters on this KVM
/// guest where TLB misses are expensive (docs/performance.md §5).
public enum AlignedMemory {
    /// Allocates `count` uninitialised elements; free with `free(_:)`. Never returns nil: running
    /// out of memory stops the process with a message.
    public static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(count * MemoryLayout<T>.stride, 64)
        let hugePage = 2 << 20
        let alignment = bytes >= 4 * hugePage ? hugePage : 64
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, alignment, (bytes + alignment - 1) / alignment * alignment)
        guard rc == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        if alignment == hugePage { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// Allocates `count` elements set to `value`.
    public static func allocate<T>(_: T.Type, count: Int, repeating value: T) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: count)
        p.initialize(repeating: value, count: count)
        return p
    }

    /// Grows a buffer: a new allocation of `newCount` elements holding the first `oldCount` of
    /// `old` and `fill` after them; `old` is freed.
    public static func grow<T>(_ old: UnsafeMutablePointer<T>, oldCount: Int, newCount: Int, fill: T) -> UnsafeMutablePointer<T> {
        let p = allocate(T.self, count: newCount)
        p.initialize(from: old, count: oldCount)
        (p + oldCount).initialize(repeating: fill, count: newCount - oldCount)
        free(old)
        return p
    }

    /// Frees a buffer from `allocate`.
    public static func free<T>(_ p: UnsafeMutablePointer<T>) {
        Glibc.free(p)
    }
}
