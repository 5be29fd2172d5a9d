import ShortlistCore
import ShortlistTestSupport
import XCTest

final class LinearAlgebraTests: XCTestCase {
    func testGemmMatchesNaiveProducts() {
        let (m, n, k) = (7, 5, 13)
        let a = Fixtures.uniform(count: m * k, seed: 1), b = Fixtures.uniform(count: n * k, seed: 2)
        var c = [Float](repeating: 0, count: m * n)
        BLAS.gemmABt(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                let ref = (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(b[j * k + $1]) }
                XCTAssertEqual(Double(c[i * n + j]), ref, accuracy: 1e-5)
            }
        }
        // A (k × m, transposed) times B (k × n).
        var c2 = [Float](repeating: 0, count: m * n)
        let at = (0..<k * m).map { a[($0 % m) * k + $0 / m] }
        let bt = (0..<k * n).map { b[($0 % n) * k + $0 / n] }
        BLAS.gemm(transposeA: true, transposeB: false, m: m, n: n, k: k, a: at, lda: m, b: bt, ldb: n, c: &c2, ldc: n)
        for i in 0..<m * n { XCTAssertEqual(c2[i], c[i], accuracy: 1e-5) }
    }

    func testSVDReconstructsTheMatrixWithOrthonormalFactors() throws {
        let (m, n) = (9, 4)
        let a = Fixtures.uniform(count: m * n, seed: 8)
        let svd = try SingularValueDecomposition(matrix: a, rows: m, columns: n)
        XCTAssertEqual(svd.singularValues, svd.singularValues.sorted(by: >))
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for r in 0..<n { s += svd.u[i * n + r] * svd.singularValues[r] * svd.vt[r * n + j] }
                XCTAssertEqual(s, a[i * n + j], accuracy: 1e-4)
            }
        }
        for r in 0..<n {
            for t in 0..<n {
                let dot = (0..<n).reduce(Float(0)) { $0 + svd.vt[r * n + $1] * svd.vt[t * n + $1] }
                XCTAssertEqual(dot, r == t ? 1 : 0, accuracy: 1e-4)
            }
        }
    }

    func testBLASRuntimeIsDetected() {
        // CI installs libopenblas0-pthread; this fails loudly if the slow reference BLAS is what runs.
        XCTAssertTrue(BLAS.runtime.isOpenBLAS, BLAS.runtime.warning ?? "")
        XCTAssertNil(BLAS.runtime.warning)
        BLAS.runtime.setThreads(1)
        XCTAssertEqual(BLAS.runtime.threads, 1)
    }
}
