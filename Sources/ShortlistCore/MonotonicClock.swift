#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds of `CLOCK_MONOTONIC`: for durations, never for dates (~20 ns a read, no
/// allocation; unaffected by changes to the wall clock).
public enum MonotonicClock {
    @inline(__always)
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
