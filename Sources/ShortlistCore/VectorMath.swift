import CShortlistKernels

/// Distances and small vector operations over raw pointers, dispatched to the C kernels.
public enum VectorMath {
    /// ‖a − b‖² over `dimension` floats.
    @inlinable
    public static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int) -> Float {
        sk_l2sq(a, b, dimension)
    }

    /// a · b over `dimension` floats.
    @inlinable
    public static func innerProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int) -> Float {
        sk_ip(a, b, dimension)
    }

    /// The internal distance under `metric` (smaller is closer). For `.cosine` both vectors must
    /// already be normalised.
    @inlinable
    public static func distance(_ metric: Metric, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int) -> Float {
        switch metric {
        case .l2: return sk_l2sq(a, b, dimension)
        case .ip, .cosine: return -sk_ip(a, b, dimension)
        }
    }

    /// Distances from `query` to `count` contiguous rows starting at `rows`, written to `out`.
    @inlinable
    public static func distances(_ metric: Metric, query: UnsafePointer<Float>, rows: UnsafePointer<Float>,
                                 count: Int, dimension: Int, into out: UnsafeMutablePointer<Float>) {
        switch metric {
        case .l2:
            sk_l2sq_rows(query, rows, count, dimension, out)
        case .ip, .cosine:
            sk_ip_rows(query, rows, count, dimension, out)
            for i in 0..<count { out[i] = -out[i] }
        }
    }

    /// Scales `dimension` floats at `v` to unit length; throws `zeroNorm(row:)` for the zero vector.
    public static func normalize(_ v: UnsafeMutablePointer<Float>, dimension: Int, row: Int = 0) throws {
        let n2 = sk_ip(v, v, dimension)
        guard n2 > 0, n2.isFinite else { throw VectorError.zeroNorm(row: row) }
        let inv = 1 / n2.squareRoot()
        for i in 0..<dimension { v[i] *= inv }
    }

    /// Checks that every component is finite; throws `nonFinite(row:column:)` naming the first that is not.
    public static func validateFinite(_ v: UnsafeBufferPointer<Float>, row: Int = 0) throws {
        guard let base = v.baseAddress else { return }
        let i = sk_first_nonfinite(base, v.count)
        if i < v.count { throw VectorError.nonFinite(row: row, column: i) }
    }
}
