import CShortlistKernels

/// Centroids laid out for `sk_nearest_transposed`: `dimension × paddedCount` floats (row t holds
/// component t of every centroid), the count padded to a multiple of 16 with centroids whose
/// bias is +infinity, and bias = ‖c‖². For nearest-centroid search in low dimensions (PQ
/// sub-spaces), where it beats sgemm + argmin.
public struct TransposedCentroids: @unchecked Sendable {
    public let count: Int
    public let dimension: Int
    let paddedCount: Int
    let components: [Float]
    let bias: [Float]

    /// From `count` centroids of `dimension` floats, `stride` floats apart, starting at `rows`.
    public init(rows: UnsafePointer<Float>, count: Int, dimension: Int, stride: Int) {
        self.count = count
        self.dimension = dimension
        paddedCount = (count + 15) / 16 * 16
        var t = [Float](repeating: 0, count: dimension * paddedCount)
        var b = [Float](repeating: .infinity, count: paddedCount)
        for c in 0..<count {
            var norm: Float = 0
            for j in 0..<dimension {
                let v = rows[c * stride + j]
                t[j * paddedCount + c] = v
                norm += v * v
            }
            b[c] = norm
        }
        components = t
        bias = b
    }

    public init(_ centroids: VectorMatrix) {
        self.init(rows: centroids.baseAddress, count: centroids.count, dimension: centroids.dimension, stride: centroids.dimension)
    }

    /// For `count` rows (`dimension` floats each, `stride` floats apart): the nearest centroid in
    /// L2 (ties: the lower) into `assignment`, and ‖c‖² − 2⟨x, c⟩ into `values` (add ‖x‖² for the distance).
    public func nearest(_ x: UnsafePointer<Float>, count: Int, stride: Int, into assignment: UnsafeMutablePointer<Int32>,
                        values: UnsafeMutablePointer<Float>) {
        components.withUnsafeBufferPointer { t in
            bias.withUnsafeBufferPointer { b in
                sk_nearest_transposed(x, count, stride, dimension, t.baseAddress!, b.baseAddress!, paddedCount, assignment, values)
            }
        }
    }
}
