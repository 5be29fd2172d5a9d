import CShortlistKernels
import ShortlistCore

/// 8-bit codes (`.sq8`): fitting the per-component ranges, encoding rows, and the integer
/// distance pass over codes that the walk uses before re-ranking with the half-precision rows.
extension HNSWVectorStore {
    /// Fits each component's range (min to max over the stored rows, 256 steps) and encodes
    /// every row. A no-op for the other storages or without rows.
    func fitCodes() {
        guard storage == .sq8, count > 0 else { return }
        var lower = [Float](repeating: .infinity, count: dimension), upper = [Float](repeating: -.infinity, count: dimension)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
            for r in 0..<count {
                readScaledRow(r, into: tmp.baseAddress!)
                for j in 0..<dimension {
                    lower[j] = min(lower[j], tmp[j])
                    upper[j] = max(upper[j], tmp[j])
                }
            }
        }
        setCodeRanges(lower: lower, step: (0..<dimension).map { (upper[$0] - lower[$0]) / 255 }, fittedRows: count)
    }

    /// Fits the code ranges again once rows clamped onto their edges (a component beyond the
    /// range by more than a step) exceed 1/64 of the rows they were fitted on (at least 16), or
    /// for the first rows of an index built empty. A drifting catalogue's new rows are then told
    /// apart by the walk instead of collapsing onto the range's edge; a refit costs one pass over
    /// the rows, amortised over the rows added since the last.
    func refitCodesIfClamped() {
        guard storage == .sq8, count > 0 else { return }
        if codeFittedRows == 0 || clampedSinceFit > max(16, codeFittedRows / 64) { fitCodes() }
    }

    /// Sets the code ranges (`dimension` each; from a file, or fitted) and encodes every row.
    func setCodeRanges(lower: [Float], step: [Float], fittedRows: Int) {
        takeRanges(lower: lower, step: step, fittedRows: fittedRows)
        guard fittedRows > 0 else { return }
        for r in 0..<count { _ = encodeRow(r) }
        clampedSinceFit = 0
    }

    func takeRanges(lower: [Float], step: [Float], fittedRows: Int) {
        precondition(storage == .sq8 && lower.count == dimension && step.count == dimension)
        codeLower = lower
        codeStep = step
        codeFittedRows = fittedRows
    }

    /// Sets the code ranges and takes every row's codes (`count × codeStride` bytes) and decoded
    /// norms (`count` floats) as saved, instead of encoding the rows again (a file being read).
    func loadCodes(lower: [Float], step: [Float], fittedRows: Int, codes bytes: UnsafeRawBufferPointer, norms: UnsafeRawBufferPointer) {
        precondition(bytes.count == count * codeStride && norms.count == count * 4)
        takeRanges(lower: lower, step: step, fittedRows: fittedRows)
        clampedSinceFit = 0
        if count > 0 {
            UnsafeMutableRawPointer(codes).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            UnsafeMutableRawPointer(codeNorms).copyMemory(from: norms.baseAddress!, byteCount: norms.count)
        }
    }

    /// `.sq8`: the stored codes and norms, for saving.
    var storedCodes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: codes, count: count * codeStride) }
    var storedCodeNorms: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: codeNorms, count: count * 4) }

    /// Writes row `r`'s codes (nearest step, clamped to the range) and its decoded norm; returns
    /// whether a component lay beyond the range by more than a step.
    func encodeRow(_ r: Int) -> Bool {
        let out = codes + r * codeStride
        var norm: Float = 0, clamped = false
        withUnsafeTemporaryAllocation(of: Float.self, capacity: dimension) { tmp in
            readScaledRow(r, into: tmp.baseAddress!)
            for j in 0..<dimension {
                let step = codeStep[j]
                let exact = step > 0 ? (tmp[j] - codeLower[j]) / step : 0
                let code = min(255, max(0, exact.rounded()))
                clamped = clamped || abs(tmp[j] - (codeLower[j] + code * step)) > max(step, abs(tmp[j]) * 1e-6)
                out[j] = UInt8(code)
                let decoded = codeLower[j] + code * step
                norm += decoded * decoded
            }
        }
        codeNorms[r] = norm
        return clamped
    }

    /// The largest integer query component: Σ|q| · 255 over `codeStride` components then stays
    /// below 2³¹ whatever the kernel's summation order.
    var codeQueryLimit: Float { Float(min(32_767, Int(Int32.max) / (255 * max(codeStride, 1)))) }

    /// Writes the integer form of the stored-form query `q` into `out` (`codeStride` values,
    /// zero-padded) and returns the affine map from its dot product with a code row to the
    /// estimated graph distance: `base + factor · dot`, plus the row's norm for L2 (`l2`), or
    /// the negated inner product otherwise. The query is quantized to `codeQueryLimit` steps
    /// either side (21,931 at 384 components, 10,527 at 800): an error of at most half a step
    /// of its largest component, far below the codes' own.
    func prepareCodeQuery(_ q: UnsafePointer<Float>, l2: Bool, into out: UnsafeMutablePointer<Int16>) -> (base: Float, factor: Float) {
        var largest: Float = 0, offset: Float = 0, norm: Float = 0
        for j in 0..<dimension {
            largest = max(largest, abs(q[j] * codeStep[j]))
            offset += q[j] * codeLower[j]
            norm += q[j] * q[j]
        }
        let alpha = largest > 0 ? codeQueryLimit / largest : 1
        for j in 0..<dimension { out[j] = Int16((q[j] * codeStep[j] * alpha).rounded()) }
        for j in dimension..<codeStride { out[j] = 0 }
        return l2 ? (norm - 2 * offset, -2 / alpha) : (-offset, -1 / alpha)
    }

    /// Estimated distances from a query prepared by `prepareCodeQuery` to the rows in `ids`.
    @inline(__always)
    func codeDistances(_ q: UnsafePointer<Int16>, base: Float, factor: Float, l2: Bool,
                       _ ids: UnsafePointer<UInt32>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        sk_sq8_ids(q, codes, codeStride, ids, n, base, factor, l2 ? UnsafePointer(codeNorms) : nil, out)
    }

    /// `q · row` over the first `components` (scaled query against stored row).
}
