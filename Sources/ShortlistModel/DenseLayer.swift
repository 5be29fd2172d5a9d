import ShortlistCore

/// A fully connected layer, y = x·W + b, with W (inputWidth × outputWidth, row-major) and b
/// (outputWidth). Batches go through `sgemm`.
final class DenseLayer: @unchecked Sendable {
    let inputWidth: Int
    let outputWidth: Int
    let weight: ParameterBuffer
    let bias: ParameterBuffer

    /// PyTorch's default initialisation: W and b uniform in ±1/√inputWidth.
    init(inputWidth: Int, outputWidth: Int, generator: inout SeededGenerator) {
        self.inputWidth = inputWidth
        self.outputWidth = outputWidth
        weight = ParameterBuffer(count: inputWidth * outputWidth)
        bias = ParameterBuffer(count: outputWidth)
        let bound = 1 / Float(inputWidth).squareRoot()
        weight.fillUniform(bound: bound, generator: &generator)
        bias.fillUniform(bound: bound, generator: &generator)
    }

    /// y (n × outputWidth) = x (n × inputWidth) · W + b.
    package func forward(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        for r in 0..<n { (y + r * outputWidth).update(from: bias.values, count: outputWidth) }
        ParallelGemm.gemm(transposeA: false, transposeB: false, m: n, n: outputWidth, k: inputWidth,
                          a: x, lda: inputWidth, b: weight.values, ldb: outputWidth, beta: 1, c: y, ldc: outputWidth,
                          threads: threads)
    }

    /// Accumulates dW += xᵀ·dy and db += Σ dy, and writes dx = dy·Wᵀ when `dx` is given.
    package func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, count n: Int, dx: UnsafeMutablePointer<Float>?,
                  threads: Int) {
        ParallelGemm.gemm(transposeA: true, transposeB: false, m: inputWidth, n: outputWidth, k: n,
                          a: x, lda: inputWidth, b: dy, ldb: outputWidth, beta: 1, c: weight.gradient, ldc: outputWidth,
                          threads: threads)
        for r in 0..<n {
            let row = dy + r * outputWidth
            for j in 0..<outputWidth { bias.gradient[j] += row[j] }
        }
        if let dx {
            ParallelGemm.gemm(transposeA: false, transposeB: true, m: n, n: inputWidth, k: outputWidth,
                              a: dy, lda: outputWidth, b: weight.values, ldb: outputWidth, beta: 0, c: dx, ldc: inputWidth,
                              threads: threads)
        }
    }
}
