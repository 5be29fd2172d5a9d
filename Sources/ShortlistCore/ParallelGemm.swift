/// `sgemm` split by rows of C across Shortlist's own threads, each calling a single-threaded
/// BLAS. One thread pool instead of two: OpenBLAS's idle workers otherwise spin (sched_yield)
/// while the row-parallel softmax runs, and on two cores they steal ~20% of a step.
package enum ParallelGemm {
    /// C (m × n) = alpha · op(A) · op(B) + beta · C, row-major, as `BLAS.gemm`, on `threads`.
    package static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        let parts = max(1, min(threads, m / 64))
        if parts == 1 {
            BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                      a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let aShared = SharedPointer(UnsafeMutablePointer(mutating: a)), cShared = SharedPointer(c)
        let bShared = SharedPointer(UnsafeMutablePointer(mutating: b))
        let rowsPer = (m + parts - 1) / parts
        Parallel.forEach(chunkCount: parts, threads: parts) { part in
            let r0 = part * rowsPer, r1 = min(m, r0 + rowsPer)
            guard r1 > r0 else { return }
            // Rows r0..<r1 of op(A): row offset in A, or column offset when A is transposed.
            let aPart = UnsafePointer(aShared.pointer + (transposeA ? r0 : r0 * lda))
            BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: r1 - r0, n: n, k: k, alpha: alpha,
                      a: aPart, lda: lda, b: UnsafePointer(bShared.pointer), ldb: ldb, beta: beta,
                      c: cShared.pointer + r0 * ldc, ldc: ldc)
        }
    }
}
