import CBLAS
import CShortlistKernels
#if canImport(Glibc)
import Glibc
#endif

/// The BLAS calls Shortlist makes, and the run-time facts about which BLAS is loaded.
///
/// `-lblas` links the netlib `libblas.so.3`; on a machine with `libopenblas0-pthread` Debian's
/// alternatives point that name at OpenBLAS, ~80× faster (docs/performance.md §1). `runtime` tells
/// which one actually runs.
public enum BLAS {
    /// C (m × n) = alpha · A (m × k) · Bᵀ (B is n × k), + beta · C. All row-major with leading
    /// dimensions `lda`, `ldb`, `ldc`.
    public static func gemmABt(m: Int, n: Int, k: Int, alpha: Float = 1,
                               a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int,
                               beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C (m × n) = alpha · op(A) · op(B) + beta · C, row-major; `transposeA`/`transposeB` select op.
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// What BLAS the process runs, found once.
    public static let runtime = BLASRuntime.detect()
}

/// Which BLAS library is loaded, and control over its threads.
public struct BLASRuntime: Sendable {
    /// The OpenBLAS configuration string (e.g. "OpenBLAS 0.3.21 … SkylakeX MAX_THREADS=64"), or nil
    /// when the loaded BLAS is not OpenBLAS (most likely netlib's reference BLAS).
    public let openBLASConfig: String?

    /// OpenBLAS's kernel family in use ("SkylakeX", "Haswell", "Prescott", …), or nil.
    public let coreName: String?

    /// True when OpenBLAS is loaded.
    public var isOpenBLAS: Bool { openBLASConfig != nil }

    /// The `OPENBLAS_CORETYPE` this CPU should run when OpenBLAS fell back to a generic kernel, else nil.
    ///
    /// OpenBLAS 0.3.21 does not recognise newer CPU models (e.g. family 6 model 207) and falls back
    /// to its SSE3 "Prescott" kernels, ~3× slower for sgemm. It picks kernels when it is loaded,
    /// so the fix is to set `OPENBLAS_CORETYPE` and restart the process (the CLI does this).
    public var recommendedCoreType: String? {
        guard let coreName else { return nil }
        let generic = ["prescott", "core2", "nehalem", "atom", "katmai", "coppermine", "northwood", "banias", "penryn", "dunnington"]
        guard generic.contains(coreName.lowercased()) else { return nil }
        switch sk_isa_detected() {
        case SK_ISA_AVX512: return "SkylakeX"
        case SK_ISA_AVX2: return "Haswell"
        default: return nil
        }
    }

    /// One line saying which BLAS runs, for logs and `--version`-style output.
    public var summary: String {
        if let openBLASConfig { return openBLASConfig }
        return "reference BLAS (not OpenBLAS)"
    }

    /// A loud warning to print when the slow reference BLAS is loaded, else nil.
    public var warning: String? {
        guard !isOpenBLAS else { return nil }
        return """
        warning: the loaded BLAS is not OpenBLAS; batch search, k-means and training run about 80× slower.
                 Install it with: apt-get install -y libopenblas0-pthread
        """
    }

    static func detect() -> BLASRuntime {
        typealias ConfigFn = @convention(c) () -> UnsafePointer<CChar>?
        guard let sym = dlsym(nil, "openblas_get_config") else { return BLASRuntime(openBLASConfig: nil, coreName: nil) }
        let config = unsafeBitCast(sym, to: ConfigFn.self)().map { String(cString: $0) } ?? "OpenBLAS"
        var core: String?
        if let coreSym = dlsym(nil, "openblas_get_corename") {
            core = unsafeBitCast(coreSym, to: ConfigFn.self)().map { String(cString: $0) }
        }
        return BLASRuntime(openBLASConfig: config, coreName: core)
    }

    /// Sets OpenBLAS's own thread count (no effect with another BLAS). A process that runs its
    /// own search threads should use 1 and parallelise across queries (docs/performance.md §1).
    public func setThreads(_ n: Int) {
        typealias SetFn = @convention(c) (Int32) -> Void
        guard let sym = dlsym(nil, "openblas_set_num_threads") else { return }
        unsafeBitCast(sym, to: SetFn.self)(Int32(max(1, n)))
    }

    /// OpenBLAS's current thread count, or nil with another BLAS.
    public var threads: Int? {
        typealias GetFn = @convention(c) () -> Int32
        guard let sym = dlsym(nil, "openblas_get_num_threads") else { return nil }
        return Int(unsafeBitCast(sym, to: GetFn.self)())
    }
}
