import CShortlistKernels
import ShortlistCore

/// Product quantization (Jégou et al., 2011): a vector of `dimension` components is cut into
/// `m` sub-vectors of `dimension / m`, and each is replaced by the index of its nearest centroid
/// in that subspace's codebook of 2^bits (256 for 8 bits, 16 for the 4-bit fast scan). Codes are
/// handled as `m` bytes, one per sub-quantizer; distances to a query are sums of `m` entries of a
/// per-query table (asymmetric distance computation).
public final class ProductQuantizer: @unchecked Sendable {
    /// Components per vector.
    public let dimension: Int
    /// Sub-quantizers (bytes per code).
    public let m: Int
    /// Components per sub-vector.
    public let subDimension: Int
    /// Bits per sub-quantizer: 8 or 4.
    public let bits: Int
    /// Centroids per sub-quantizer: 2^bits.
    public var centroidCount: Int { 1 << bits }
    /// The supported `bits`.
    public static let supportedBits: Set<Int> = [4, 8]
    /// `m × 2^bits × subDimension` floats: codebook j, centroid c at `(j · 2^bits + c) · subDimension`.
    public let codebooks: [Float]
    /// ‖centroid‖² for every codebook entry (`m × 2^bits`).
    let centroidNorms: [Float]
    /// The codebooks transposed to `m × subDimension × 2^bits`, for vectorised query tables.
    let codebooksTransposed: [Float]

    public init(dimension: Int, m: Int, bits: Int = 8, codebooks: [Float]) throws {
        guard m >= 1, dimension % m == 0 else {
            throw IndexError.invalidSpec("PQ\(m)", reason: "the dimension \(dimension) is not a multiple of m = \(m)")
        }
        guard Self.supportedBits.contains(bits) else { throw IndexError.invalidSpec("PQ\(m)x\(bits)", reason: "codes have 8 or 4 bits") }
        let ds = dimension / m, k = 1 << bits
        precondition(codebooks.count == m * k * ds)
        self.dimension = dimension
        self.m = m
        self.bits = bits
        subDimension = ds
        self.codebooks = codebooks
        centroidNorms = (0..<m * k).map { c in
            (0..<ds).reduce(Float(0)) { $0 + codebooks[c * ds + $1] * codebooks[c * ds + $1] }
        }
        var transposed = [Float](repeating: 0, count: codebooks.count)
        for j in 0..<m {
            for c in 0..<k {
                for t in 0..<ds { transposed[(j * ds + t) * k + c] = codebooks[(j * k + c) * ds + t] }
            }
        }
        codebooksTransposed = transposed
    }

    /// Trains the `m` codebooks by k-means (2^bits centroids each) on the rows of `data`.
    public static func train(_ data: VectorMatrix, m: Int, bits: Int = 8, iterations: Int = 25, seed: UInt64, threads: Int,
                             progress: ProgressHandler? = nil) throws -> ProductQuantizer {
        let d = data.dimension
        guard m >= 1, d % m == 0 else { throw IndexError.invalidSpec("PQ\(m)", reason: "the dimension \(d) is not a multiple of m = \(m)") }
        guard supportedBits.contains(bits) else { throw IndexError.invalidSpec("PQ\(m)x\(bits)", reason: "codes have 8 or 4 bits") }
        let ds = d / m, k = 1 << bits
        guard data.count >= k else { throw KMeansError.tooFewPoints(points: data.count, centroids: k) }
        var codebooks = [Float](repeating: 0, count: m * k * ds)
        let sub = try VectorMatrix(count: data.count, dimension: ds)
        for j in 0..<m {
            for r in 0..<data.count { sub.row(r).update(from: data.row(r) + j * ds, count: ds) }
            let result = try KMeans.train(sub, configuration: KMeansConfiguration(centroidCount: k, iterations: iterations,
                                                                                   seed: seed &+ UInt64(j), threads: threads))
            for c in 0..<k * ds { codebooks[j * k * ds + c] = result.centroids.baseAddress[c] }
            progress?(j + 1, m)
        }
        return try ProductQuantizer(dimension: d, m: m, bits: bits, codebooks: codebooks)
    }

    /// Codes of every row of `data`: `count × m` bytes, row-major. Sub-spaces of up to
    /// `KMeans.smallDimension` components compute distances directly; larger ones use one sgemm
    /// per sub-space and tile.
    public func encode(_ data: VectorMatrix, threads: Int) -> [UInt8] {
        let n = data.count, k = centroidCount, ds = subDimension, d = dimension
        var codes = [UInt8](repeating: 0, count: n * m)
        if ds <= KMeans.smallDimension {
            // `codebooksTransposed` and `centroidNorms` are already the kernel's layout per
            // sub-space (ds × k, k a multiple of 16; bias ‖C_jc‖²).
            let chunk = 1024, chunks = (n + chunk - 1) / chunk
            codes.withUnsafeMutableBufferPointer { out in
                let shared = CodeOutput(codes: out.baseAddress!)
                Parallel.forEach(chunkCount: chunks, threads: threads) { c in
                    let first = c * chunk, rows = min(chunk, n - first)
                    withUnsafeTemporaryAllocation(of: Int32.self, capacity: rows) { nearest in
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { values in
                            self.codebooksTransposed.withUnsafeBufferPointer { cbt in
                                self.centroidNorms.withUnsafeBufferPointer { norms in
                                    for j in 0..<self.m {
                                        sk_nearest_transposed(data.row(first) + j * ds, rows, d, ds, cbt.baseAddress! + j * ds * k,
                                                              norms.baseAddress! + j * k, k, nearest.baseAddress!, values.baseAddress!)
                                        for i in 0..<rows { shared.codes[(first + i) * self.m + j] = UInt8(nearest[i]) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return codes
        }
        let tile = 1024
        codes.withUnsafeMutableBufferPointer { out in
            let shared = CodeOutput(codes: out.baseAddress!)
            let tiles = (n + tile - 1) / tile, workers = max(1, min(threads, tiles))
            Parallel.forEach(chunkCount: workers, threads: threads) { w in
              let products = UnsafeMutablePointer<Float>.allocate(capacity: min(tile, max(n, 1)) * k)
              defer { products.deallocate() }
              for t in stride(from: w, to: tiles, by: workers) {
                let first = t * tile, rows = min(tile, n - first)
                self.codebooks.withUnsafeBufferPointer { cb in
                    self.centroidNorms.withUnsafeBufferPointer { norms in
                        for j in 0..<self.m {
                            BLAS.gemmABt(m: rows, n: k, k: ds, a: data.row(first) + j * ds, lda: d,
                                         b: cb.baseAddress! + j * k * ds, ldb: ds, c: products, ldc: k)
                            for i in 0..<rows {
                                var value: Float = 0
                                let best = sk_argmin_affine(products + i * k, norms.baseAddress! + j * k, -2, k, &value)
                                shared.codes[(first + i) * self.m + j] = UInt8(best)
                            }
                        }
                    }
                }
              }
            }
        }
        return codes
    }

    /// Reconstructs the vector a code stands for into `out` (`dimension` floats).
    public func decode(_ code: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<Float>) {
        let ds = subDimension, k = centroidCount
        codebooks.withUnsafeBufferPointer { cb in
            for j in 0..<m {
                out.advanced(by: j * ds).update(from: cb.baseAddress! + (j * k + Int(code[j])) * ds, count: ds)
            }
        }
    }

    /// (base ? base : 0) + scale · ⟨q_j, C_jc⟩ for every sub-space j and centroid c (`m × 2^bits`):
    /// the query part of the L2 table (scale −2) and the inner-product table (scale −1).
    func innerProductTable(_ q: UnsafePointer<Float>, scale: Float, base: UnsafePointer<Float>? = nil,
                           into table: UnsafeMutablePointer<Float>) {
        codebooksTransposed.withUnsafeBufferPointer { cbt in
            if bits == 4 {
                sk_pq4_table(q, cbt.baseAddress!, m, subDimension, scale, base, table)
            } else {
                sk_pq_ip_table(q, cbt.baseAddress!, m, subDimension, scale, base, table)
            }
        }
    }

    /// ‖q_j − C_jc‖² for every sub-space j and centroid c (`m × 2^bits`).
    public func l2Table(_ q: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>) {
        let ds = subDimension, k = centroidCount
        codebooks.withUnsafeBufferPointer { cb in
            for j in 0..<m {
                sk_l2sq_rows(q + j * ds, cb.baseAddress! + j * k * ds, k, ds, table + j * k)
            }
        }
    }

    /// Mean squared reconstruction error over the rows of `data`.
    public func reconstructionError(_ data: VectorMatrix, threads: Int) -> Double {
        let codes = encode(data, threads: threads)
        var total = 0.0
        var row = [Float](repeating: 0, count: dimension)
        codes.withUnsafeBufferPointer { c in
            for r in 0..<data.count {
                decode(c.baseAddress! + r * m, into: &row)
                total += Double(sk_l2sq(row, data.row(r), dimension))
            }
        }
        return total / Double(max(data.count, 1))
    }
}

private struct CodeOutput: @unchecked Sendable {
    let codes: UnsafeMutablePointer<UInt8>
}
