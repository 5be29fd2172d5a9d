import ShortlistModel
import CShortlistKernels
import Foundation
import ShortlistCore
import ShortlistData

/// The settings of `ImplicitALS`, with their effect and default.
public struct ImplicitALSConfiguration: Sendable, Equatable {
    /// Width of the user and item factors (default 128). Wider fits more and costs d² per row.
    public var factors = 128
    /// λ, the L2 penalty on every factor (default 10). Larger shrinks the factors of rare users
    /// and items towards zero (towards popularity).
    public var regularization: Float = 10
    /// α, the confidence of an observed pair (default 40; unobserved pairs weigh 1 with
    /// preference 0, as in implicit ≥ 0.5). Larger trusts the observations more.
    public var alpha: Float = 40
    /// Sweeps, each solving every user then every item (default 15).
    public var iterations = 15
    /// Conjugate-gradient steps per row and sweep, warm-started from the row's last value
    /// (default 3, as implicit's CPU solver).
    public var cgSteps = 3
    /// Seed of the initial factors (normal, scale 0.01).
    public var seed: UInt64 = 1
    /// Threads (default every core). The result does not depend on it.
    public var threads = Parallel.availableCores

    public init() {}
}

/// Implicit-feedback matrix factorisation (Hu, Koren and Volinsky's iALS), solved by conjugate
/// gradient as implicit's CPU solver does, with the dense part of every step as one matrix
/// product per block of rows.
///
/// Minimises Σ_observed α (1 − xᵤ·yᵢ)² + Σ_unobserved (xᵤ·yᵢ)² + λ (Σ‖xᵤ‖² + Σ‖yᵢ‖²). With the
/// items fixed, user u's factor solves (YᵀY + λI + (α − 1) Σᵢ∈u yᵢyᵢᵀ) xᵤ = α Σᵢ∈u yᵢ: the dense
/// Gram matrix G = YᵀY + λI is shared by every user, the rest is the user's own items. A sweep
/// solves all users (each by `cgSteps` steps from its last value), then all items the same way.
/// Blocks of 256 rows take their G products as one `sgemm` (rows × d · d × d); the sparse terms
/// are row dot products. Scores are inner products xᵤ·yᵢ (index the item factors with metric ip).
public final class ImplicitALS {
    public let configuration: ImplicitALSConfiguration
    /// users × factors, row-major.
    public private(set) var userFactors: VectorMatrix
    /// items × factors, row-major.
    public private(set) var itemFactors: VectorMatrix
    /// Training pairs, by user and by item.
    private let byUser: InteractionMatrix
    private let byItem: InteractionMatrix
    public private(set) var iterationsDone = 0

    static let block = 256

    /// `train`: users × items of observed pairs (repeats count once).
    public convenience init(train: InteractionMatrix, itemCount: Int, configuration: ImplicitALSConfiguration) throws {
        try self.init(byUser: train, byItem: Self.transpose(train, itemCount: itemCount), configuration: configuration)
    }

    /// The pairs by user and by item (`transpose` of the first), so that several models of the
    /// same data (tuning trials) share one transpose.
    init(byUser: InteractionMatrix, byItem: InteractionMatrix, configuration: ImplicitALSConfiguration) throws {
        guard (1...4096).contains(configuration.factors), (0...100_000).contains(configuration.iterations),
              (1...1000).contains(configuration.cgSteps), configuration.regularization.isFinite, configuration.regularization >= 0,
              configuration.alpha.isFinite, configuration.alpha >= 1 else {
            throw TrainerError.badConfiguration("ALS needs factors in 1...4096, iterations in 0...100000, cg steps in 1...1000, a finite regularization ≥ 0 and a finite alpha ≥ 1")
        }
        self.configuration = configuration
        self.byUser = byUser
        self.byItem = byItem
        var rng = SeededGenerator(seed: configuration.seed)
        let d = configuration.factors
        userFactors = try VectorMatrix(dimension: d, values: (0..<byUser.rowCount * d).map { _ in rng.nextGaussian() * 0.01 })
        itemFactors = try VectorMatrix(dimension: d, values: (0..<byItem.rowCount * d).map { _ in rng.nextGaussian() * 0.01 })
    }

    /// items × users of the same pairs.
    static func transpose(_ train: InteractionMatrix, itemCount: Int) -> InteractionMatrix {
        var users: [Int32] = [], items: [Int32] = []
        users.reserveCapacity(train.count)
        items.reserveCapacity(train.count)
        for u in 0..<train.rowCount {
            for i in train.items(of: u) {
                users.append(Int32(i))
                items.append(Int32(u))
            }
        }
        return InteractionMatrix(rowCount: itemCount, users: users, items: items)
    }

    /// One sweep: every user given the items, then every item given the users.
    public func iterate() {
        BLAS.runtime.setThreads(1)   // rows are split across threads here
        Self.solve(userFactors, given: itemFactors, pairs: byUser, configuration: configuration)
        Self.solve(itemFactors, given: userFactors, pairs: byItem, configuration: configuration)
        iterationsDone += 1
    }

    /// All remaining sweeps; `onIteration` after each (e.g. to evaluate or log).
    public func run(onIteration: ((Int) throws -> Void)? = nil) rethrows {
        while iterationsDone < configuration.iterations {
            iterate()
            try onIteration?(iterationsDone)
        }
    }

    /// Updates every row of `x` (rows × d) by conjugate gradient on its normal equations, with
    /// `y` (the other side) fixed and `pairs` giving each row's observed columns.
    static func solve(_ x: VectorMatrix, given y: VectorMatrix, pairs: InteractionMatrix, configuration c: ImplicitALSConfiguration) {
        let d = x.dimension, rows = x.count
        guard rows > 0 else { return }
        // G = YᵀY + λI (d × d, symmetric).
        let gram = UnsafeMutablePointer<Float>.allocate(capacity: d * d)
        defer { gram.deallocate() }
        BLAS.gemm(transposeA: true, transposeB: false, m: d, n: d, k: y.count, a: y.baseAddress, lda: d,
                  b: y.baseAddress, ldb: d, c: gram, ldc: d)
        for j in 0..<d { gram[j * d + j] += c.regularization }
        let shared = SharedPointer(gram), xs = SharedPointer(x.baseAddress), ys = SharedPointer(UnsafeMutablePointer(mutating: y.baseAddress))
        let blocks = (rows + block - 1) / block
        let weight = c.alpha - 1, alpha = c.alpha, steps = c.cgSteps
        Parallel.forEach(chunkCount: blocks, threads: c.threads) { b in
            let first = b * block, n = min(block, rows - first)
            let g = UnsafePointer(shared.pointer), yb = UnsafePointer(ys.pointer)
            let xb = xs.pointer + first * d
            // r = b − A x, p = r, per row; then `steps` CG steps, all rows of the block in step.
            let r = UnsafeMutablePointer<Float>.allocate(capacity: n * d), p = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
            let ap = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
            var rsOld = [Float](repeating: 0, count: n)
            defer { r.deallocate(); p.deallocate(); ap.deallocate() }
            // r = −G x (G symmetric: x · G row-major is the same product).
            BLAS.gemm(transposeA: false, transposeB: false, m: n, n: d, k: d, alpha: -1, a: xb, lda: d, b: g, ldb: d, c: r, ldc: d)
            for row in 0..<n {
                let xr = xb + row * d, rr = r + row * d
                for i in pairs.items(of: first + row) {
                    let yi = yb + Int(i) * d
                    // + α yᵢ − (α − 1)(yᵢ·x) yᵢ
                    let s = alpha - weight * sk_ip(yi, xr, d)
                    for j in 0..<d { rr[j] += s * yi[j] }
                }
                p.advanced(by: row * d).update(from: rr, count: d)
                rsOld[row] = sk_ip(rr, rr, d)
            }
            var active = [Bool](repeating: true, count: n)
            for _ in 0..<steps {
                BLAS.gemm(transposeA: false, transposeB: false, m: n, n: d, k: d, a: p, lda: d, b: g, ldb: d, c: ap, ldc: d)
                for row in 0..<n where active[row] {
                    let pr = p + row * d, apr = ap + row * d, rr = r + row * d, xr = xb + row * d
                    for i in pairs.items(of: first + row) {
                        let yi = yb + Int(i) * d
                        let s = weight * sk_ip(yi, pr, d)
                        for j in 0..<d { apr[j] += s * yi[j] }
                    }
                    let pAp = sk_ip(pr, apr, d)
                    guard pAp > 0 else { active[row] = false; continue }
                    let a = rsOld[row] / pAp
                    for j in 0..<d {
                        xr[j] += a * pr[j]
                        rr[j] -= a * apr[j]
                    }
                    let rsNew = sk_ip(rr, rr, d)
                    if rsNew < 1e-20 { active[row] = false; continue }
                    let beta = rsNew / rsOld[row]
                    for j in 0..<d { pr[j] = rr[j] + beta * pr[j] }
                    rsOld[row] = rsNew
                }
            }
        }
    }
}
