import Foundation
import ShortlistCore

/// How embedding rows are updated. Only the rows a batch touches change (sparse updates), so a
/// step costs O(batch × dimension) however large the table is.
public enum EmbeddingOptimizer: String, Sendable, CaseIterable {
    /// Lazy Adam (PyTorch's SparseAdam): per-element moments, updated only for touched rows,
    /// bias-corrected with the global step.
    case adam
    /// Row-wise Adagrad: one accumulator per row (the mean squared gradient), as in large
    /// recommender systems. Its learning rate wants to be larger than Adam's (about 0.05).
    case adagrad
}

/// An embedding table (rows × dimension, row-major) with its sparse gradient.
final class EmbeddingTable: @unchecked Sendable {
    let rows: Int
    let dimension: Int
    let parameters: ParameterBuffer
    package let gradient: SparseGradient

    init(rows: Int, dimension: Int, batchCapacity: Int) {
        self.rows = rows
        self.dimension = dimension
        parameters = ParameterBuffer(count: rows * dimension)
        gradient = SparseGradient(rows: rows, dimension: dimension, capacity: batchCapacity)
    }

    @inline(__always) func row(_ r: Int) -> UnsafeMutablePointer<Float> { parameters.values + r * dimension }

    /// Applies the accumulated sparse gradient to the touched rows and clears it.
    /// `step` is the global step, counting from 1 (Adam's bias correction).
    func applyGradient(_ optimizer: EmbeddingOptimizer, _ hyper: AdamHyperparameters, step: Int, threads: Int = 1) {
        let d = dimension
        let g = gradient
        let parameters = parameters
        let corrected = hyper.corrected(step: step)
        let keep = hyper.decayFactor
        // Touched rows are distinct, so chunks of them update in parallel.
        let chunk = 256
        Parallel.forEach(chunkCount: (g.touchedCount + chunk - 1) / chunk, threads: threads) { k in
            for slot in (k * chunk)..<min(g.touchedCount, (k + 1) * chunk) {
                let r = Int(g.touchedRows[slot])
                let w = parameters.values + r * d, gr = g.values + slot * d
                switch optimizer {
                case .adam:
                    // Lazy Adam: only touched rows' moments move (bias correction uses the global step).
                    hyper.update(values: w, firstMoment: parameters.firstMoment + r * d, secondMoment: parameters.secondMoment + r * d,
                                 gradient: gr, count: d, corrected: corrected)
                case .adagrad:
                    var sq: Float = 0
                    for j in 0..<d { sq += gr[j] * gr[j] }
                    let acc = parameters.secondMoment[r] + sq / Float(d)
                    parameters.secondMoment[r] = acc
                    let scale = hyper.learningRate / (acc.squareRoot() + 1e-10)
                    for j in 0..<d { w[j] = w[j] * keep - scale * gr[j] }
                }
            }
        }
        g.clear()
    }
}

/// Gradient rows of an embedding table for the rows one batch touched: each touched row is
/// accumulated once, in the order first touched (deterministic).
final class SparseGradient: @unchecked Sendable {
    let dimension: Int
    /// For every table row, its slot in `values`, or -1.
    private let slot: UnsafeMutablePointer<Int32>
    private(set) var capacity: Int
    /// Gradient rows (touchedCount × dimension).
    package private(set) var values: UnsafeMutablePointer<Float>
    /// Table row of each slot.
    private(set) var touchedRows: UnsafeMutablePointer<Int32>
    private(set) var touchedCount = 0
    private let rows: Int

    init(rows: Int, dimension: Int, capacity: Int) {
        self.rows = rows
        self.dimension = dimension
        self.capacity = max(capacity, 1)
        slot = AlignedMemory.allocate(Int32.self, count: max(rows, 1), repeating: -1)
        values = AlignedMemory.allocate(Float.self, count: self.capacity * dimension, repeating: 0)
        touchedRows = AlignedMemory.allocate(Int32.self, count: self.capacity, repeating: 0)
    }

    deinit {
        AlignedMemory.free(slot)
        AlignedMemory.free(values)
        AlignedMemory.free(touchedRows)
    }

    /// gradient[row] += scale · vector (dimension floats).
    @inline(__always)
    func add(row: Int, _ vector: UnsafePointer<Float>, scale: Float = 1) {
        var s = Int(slot[row])
        if s < 0 {
            if touchedCount == capacity { grow() }
            s = touchedCount
            touchedCount += 1
            slot[row] = Int32(s)
            touchedRows[s] = Int32(row)
            (values + s * dimension).update(repeating: 0, count: dimension)
        }
        let out = values + s * dimension
        for j in 0..<dimension { out[j] += scale * vector[j] }
    }

    /// The accumulated gradient of `row`, if the batch touched it.
    package func gradient(of row: Int) -> UnsafePointer<Float>? {
        let s = Int(slot[row])
        return s < 0 ? nil : UnsafePointer(values + s * dimension)
    }

    func clear() {
        for s in 0..<touchedCount { slot[Int(touchedRows[s])] = -1 }
        touchedCount = 0
    }

    private func grow() {
        let newCapacity = capacity * 2
        values = AlignedMemory.grow(values, oldCount: capacity * dimension, newCount: newCapacity * dimension, fill: 0)
        touchedRows = AlignedMemory.grow(touchedRows, oldCount: capacity, newCount: newCapacity, fill: 0)
        capacity = newCapacity
    }
}
