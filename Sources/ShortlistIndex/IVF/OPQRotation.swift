import ShortlistCore

/// Optimized product quantization's rotation (Ge et al., 2013; FAISS's `OPQMatrix`): an orthogonal
/// `dimension × dimension` matrix R, learned so that product quantization of x·R loses less
/// than of x. Because R is orthogonal it preserves L2 distances and inner products, so an index
/// can hold every vector rotated and only rotate queries.
///
/// Training alternates two steps on a sample X: fit a product quantizer to X·R and reconstruct
/// X̂; then set R to the orthogonal matrix closest to mapping X onto X̂ (Procrustes): with
/// Xᵀ X̂ = U S Vᵀ (LAPACK's `sgesvd`), R = U Vᵀ.
public struct OPQRotation: Sendable {
    public let dimension: Int
    /// R, row-major: rotated = x · R.
    public let matrix: [Float]

    public init(dimension: Int, matrix: [Float]) {
        precondition(matrix.count == dimension * dimension)
        self.dimension = dimension
        self.matrix = matrix
    }

    /// The identity.
    public static func identity(dimension: Int) -> OPQRotation {
        var m = [Float](repeating: 0, count: dimension * dimension)
        for i in 0..<dimension { m[i * dimension + i] = 1 }
        return OPQRotation(dimension: dimension, matrix: m)
    }

    /// Learns R for `m` sub-quantizers on the rows of `data` (a sample of at most `maximumSample`
    /// rows), with `iterations` alternations of `pqIterations` k-means steps each.
    public static func train(_ data: VectorMatrix, m: Int, iterations: Int = 8, pqIterations: Int = 4,
                             maximumSample: Int = 65_536, seed: UInt64, threads: Int) throws -> OPQRotation {
        let d = data.dimension
        var rng = SeededGenerator(seed: seed)
        let sample: VectorMatrix
        if data.count > maximumSample {
            sample = try VectorMatrix(count: maximumSample, dimension: d)
            for (i, r) in KMeans.sampleIndices(count: maximumSample, from: data.count, rng: &rng).enumerated() {
                sample.row(i).update(from: data.row(r), count: d)
            }
        } else {
            sample = data
        }
        var rotation = identity(dimension: d)
        let n = sample.count
        for it in 0..<iterations {
            let rotated = rotation.apply(sample)
            let pq = try ProductQuantizer.train(rotated, m: m, iterations: pqIterations, seed: seed &+ UInt64(it), threads: threads)
            let codes = pq.encode(rotated, threads: threads)
            let reconstructed = try VectorMatrix(count: n, dimension: d)
            codes.withUnsafeBufferPointer { c in
                for r in 0..<n { pq.decode(c.baseAddress! + r * m, into: reconstructed.row(r)) }
            }
            // M = Xᵀ X̂ (d × d); R = U Vᵀ.
            var product = [Float](repeating: 0, count: d * d)
            BLAS.gemm(transposeA: true, transposeB: false, m: d, n: d, k: n, a: sample.baseAddress, lda: d,
                      b: reconstructed.baseAddress, ldb: d, c: &product, ldc: d)
            let svd = try SingularValueDecomposition(matrix: product, rows: d, columns: d)
            var next = [Float](repeating: 0, count: d * d)
            BLAS.gemm(transposeA: false, transposeB: false, m: d, n: d, k: d, a: svd.u, lda: d, b: svd.vt, ldb: d, c: &next, ldc: d)
            rotation = OPQRotation(dimension: d, matrix: next)
        }
        return rotation
    }

    /// Every row of `data` rotated: `count × dimension`.
    public func apply(_ data: VectorMatrix) -> VectorMatrix {
        let out = try! VectorMatrix(count: data.count, dimension: dimension)
        matrix.withUnsafeBufferPointer { r in
            BLAS.gemm(transposeA: false, transposeB: false, m: data.count, n: dimension, k: dimension,
                      a: data.baseAddress, lda: dimension, b: r.baseAddress!, ldb: dimension, c: out.baseAddress, ldc: dimension)
        }
        return out
    }

    /// One vector rotated into `out`.
    public func apply(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        matrix.withUnsafeBufferPointer { r in
            BLAS.gemm(transposeA: false, transposeB: false, m: 1, n: dimension, k: dimension,
                      a: x, lda: dimension, b: r.baseAddress!, ldb: dimension, c: out, ldc: dimension)
        }
    }
}
