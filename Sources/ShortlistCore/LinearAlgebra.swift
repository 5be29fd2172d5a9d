import CLAPACKE

/// Errors from LAPACK routines.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The routine reported failure with LAPACK's `info` code.
    case lapackFailed(routine: String, info: Int)

    public var description: String {
        switch self {
        case let .lapackFailed(routine, info): return "\(routine) failed (info = \(info))"
        }
    }
}

/// A thin singular value decomposition A = U · diag(S) · Vᵀ of an m × n row-major matrix.
public struct SingularValueDecomposition: Sendable {
    /// m × r, row-major, r = min(m, n): the left singular vectors as columns.
    public var u: [Float]
    /// r singular values, largest first.
    public var singularValues: [Float]
    /// r × n, row-major: the right singular vectors as rows.
    public var vt: [Float]
    public var rows: Int
    public var columns: Int

    /// Decomposes `matrix` (rows × columns, row-major) with LAPACK's `sgesvd`.
    public init(matrix: [Float], rows m: Int, columns n: Int) throws {
        precondition(matrix.count == m * n && m > 0 && n > 0)
        let r = min(m, n)
        var a = matrix
        var s = [Float](repeating: 0, count: r)
        var u = [Float](repeating: 0, count: m * r)
        var vt = [Float](repeating: 0, count: r * n)
        var superb = [Float](repeating: 0, count: max(r - 1, 1))
        let job = Int8(UInt8(ascii: "S"))
        let info = LAPACKE_sgesvd(LAPACK_ROW_MAJOR, job, job, Int32(m), Int32(n), &a, Int32(n),
                                  &s, &u, Int32(r), &vt, Int32(n), &superb)
        guard info == 0 else { throw LinearAlgebraError.lapackFailed(routine: "sgesvd", info: Int(info)) }
        self.u = u
        self.singularValues = s
        self.vt = vt
        self.rows = m
        self.columns = n
    }
}
