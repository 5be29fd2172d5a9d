import ShortlistModel
import CShortlistKernels
import ShortlistCore

/// The sampled-softmax loss of a batch, with its gradients.
struct SampledSoftmaxResult {
    /// Mean cross-entropy over the batch's rows.
    var loss: Float
    /// dLoss / d(log scale), for a learned temperature (scale = 1/τ).
    var logScaleGradient: Float
}

/// In-batch sampled softmax (Yi et al., RecSys 2019): row r of the batch is a user whose positive
/// item is column r; every other column (the batch's other items, then any extra sampled
/// negatives) is a negative. For user u and column c,
///
///     logit(u, c) = scale · cos(u, c) − correction[c]
///
/// where `correction` is the log-Q term, the log of how often item c is expected in a batch, so
/// popular items are not over-penalised for appearing as negatives often. A column holding the
/// same item as row r's positive (an accidental hit) is masked out of row r. The loss is the
/// mean over rows of −log softmax(row)[r].
final class SampledSoftmaxLoss: @unchecked Sendable {
    private var logits: UnsafeMutablePointer<Float>
    private var logitCapacity = 0
    private var rowLosses: [Float] = []
    /// Masked (row, column) pairs of the current batch, as CSR by row.
    private var maskOffsets: [Int] = []
    private var maskColumns: [Int32] = []
    private var order: [Int32] = []

    init() {
        logits = AlignedMemory.allocate(Float.self, count: 1)
    }

    deinit { AlignedMemory.free(logits) }

    /// Forward and backward in one pass.
    /// - Parameters:
    ///   - users: rowCount × dimension unit vectors (row-major).
    ///   - items: columnCount × dimension unit vectors; the first rowCount are the positives.
    ///   - columnItems: the item row of each column (columnCount), for accidental-hit masking.
    ///   - corrections: per-column log-Q correction (columnCount), or nil.
    ///   - scale: 1/τ.
    ///   - userGradient, itemGradient: receive dLoss/dusers and dLoss/ditems.
    ///   - columnGradient: if given, receives dLoss/dlogit summed over rows, per column
    ///     (columnCount), the gradient of an additive per-column term such as an item bias.
    func compute(users: UnsafePointer<Float>, rowCount: Int, items: UnsafePointer<Float>, columnCount: Int,
                 dimension d: Int, columnItems: UnsafeBufferPointer<Int32>, corrections: UnsafePointer<Float>?,
                 scale: Float, userGradient: UnsafeMutablePointer<Float>, itemGradient: UnsafeMutablePointer<Float>,
                 columnGradient: UnsafeMutablePointer<Float>? = nil, threads: Int) -> SampledSoftmaxResult {
        let b = rowCount, c = columnCount
        precondition(c >= b && columnItems.count == c)
        if b * c > logitCapacity {
            AlignedMemory.free(logits)
            logitCapacity = b * c
            logits = AlignedMemory.allocate(Float.self, count: logitCapacity)
        }
        buildMasks(rowCount: b, columnItems: columnItems)
        // logits = scale · users · itemsᵀ − correction: rows start as −correction (or 0) and the
        // sgemm accumulates onto them, one pass over the matrix fewer than subtracting after.
        let logitsPointer = SharedPointer(logits)
        let chunk = 32
        let chunkCount = (b + chunk - 1) / chunk
        let corrections = corrections.map { SharedPointer(UnsafeMutablePointer(mutating: $0)) }
        Parallel.forEach(chunkCount: chunkCount, threads: threads) { k in
            for r in (k * chunk)..<min(b, (k + 1) * chunk) {
                let row = logitsPointer.pointer + r * c
                if let corrections {
                    for j in 0..<c { row[j] = -corrections.pointer[j] }
                } else {
                    row.update(repeating: 0, count: c)
                }
            }
        }
        ParallelGemm.gemm(transposeA: false, transposeB: true, m: b, n: c, k: d, alpha: scale, a: users, lda: d,
                          b: items, ldb: d, beta: 1, c: logits, ldc: c, threads: threads)
        if rowLosses.count < b { rowLosses = [Float](repeating: 0, count: b) }
        let invB = 1 / Float(b)
        rowLosses.withUnsafeMutableBufferPointer { lossBuffer in
            maskOffsets.withUnsafeMutableBufferPointer { offsetBuffer in
                maskColumns.withUnsafeMutableBufferPointer { maskedBuffer in
                    let losses = SharedPointer(lossBuffer.baseAddress!), offsets = SharedPointer(offsetBuffer.baseAddress!)
                    let masked = SharedPointer(maskedBuffer.baseAddress!)
                    Parallel.forEach(chunkCount: chunkCount, threads: threads) { k in
                        for r in (k * chunk)..<min(b, (k + 1) * chunk) {
                            let row = logitsPointer.pointer + r * c
                            for m in offsets.pointer[r]..<offsets.pointer[r + 1] { row[Int(masked.pointer[m])] = -.infinity }
                            let positive = row[r]
                            // G = (softmax − one-hot) / b, the gradient of the mean loss.
                            losses.pointer[r] = sk_softmax_row(row, c, invB) - positive
                            row[r] -= invB
                        }
                    }
                }
            }
        }
        var loss: Float = 0
        for r in 0..<b { loss += rowLosses[r] }
        // dusers = scale · G · items; ditems = scale · Gᵀ · users.
        ParallelGemm.gemm(transposeA: false, transposeB: false, m: b, n: d, k: c, alpha: scale,
                          a: logits, lda: c, b: items, ldb: d, c: userGradient, ldc: d, threads: threads)
        ParallelGemm.gemm(transposeA: true, transposeB: false, m: c, n: d, k: b, alpha: scale,
                          a: logits, lda: c, b: users, ldb: d, c: itemGradient, ldc: d, threads: threads)
        if let columnGradient {
            var ones = [Float](repeating: 1, count: b)
            BLAS.gemm(transposeA: false, transposeB: false, m: 1, n: c, k: b, a: &ones, lda: b, b: logits, ldb: c,
                      c: columnGradient, ldc: c)
        }
        // d/d(log scale) of scale·Σ G∘cos is Σ_r users_r · dusers_r.
        var logScaleGradient: Float = 0
        for r in 0..<b {
            let u = users + r * d, g = userGradient + r * d
            for j in 0..<d { logScaleGradient += u[j] * g[j] }
        }
        return SampledSoftmaxResult(loss: loss * invB, logScaleGradient: logScaleGradient)
    }

    /// For every row r, the columns other than r that hold row r's positive item.
    private func buildMasks(rowCount b: Int, columnItems: UnsafeBufferPointer<Int32>) {
        let c = columnItems.count
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: (0..<Int32(c)))
        order.sort { (columnItems[Int($0)], $0) < (columnItems[Int($1)], $1) }
        var pairs: [(row: Int32, column: Int32)] = []
        var start = 0
        while start < c {
            var end = start + 1
            while end < c && columnItems[Int(order[end])] == columnItems[Int(order[start])] { end += 1 }
            if end - start > 1 {
                for i in start..<end where Int(order[i]) < b {
                    for j in start..<end where j != i { pairs.append((order[i], order[j])) }
                }
            }
            start = end
        }
        pairs.sort { ($0.row, $0.column) < ($1.row, $1.column) }
        maskOffsets = [Int](repeating: 0, count: b + 1)
        maskColumns.removeAll(keepingCapacity: true)
        for p in pairs { maskOffsets[Int(p.row) + 1] += 1; maskColumns.append(p.column) }
        for r in 0..<b { maskOffsets[r + 1] += maskOffsets[r] }
        maskColumns.append(0)   // a sentinel, so the buffer is never empty
    }
}
