import ShortlistCore
import ShortlistFeatures

/// One tower of the two-tower model. For a batch row with id row e (a user or an item; none for
/// an unseen one) and a weighted bag of rows per field (`TowerBatch`):
///
///     x₀ = idTable[e] + Σ_fields Σ_k w_k · fieldTable[row_k]
///     x_{l+1} = ReLU(x_l·W_l + b_l)      (no ReLU after the last layer)
///     z = x_L / ‖x_L‖                    (outputDimension, unit length)
///
/// With no hidden layers x_L = x₀. Activations live in workspace buffers sized for the largest
/// batch seen, so a step allocates nothing once warm.
package final class Tower: @unchecked Sendable {
    let entityCount: Int
    /// Width of the embeddings (x₀) and of the output.
    let dimension: Int
    let idTable: EmbeddingTable
    /// Rows of each field's table.
    let fieldSizes: [Int]
    let fieldTables: [EmbeddingTable]
    let layers: [DenseLayer]

    private var capacity = 0
    /// activations[l] = x_l (capacity × width of l); the last is x_L.
    private var activations: [UnsafeMutablePointer<Float>] = []
    private let widths: [Int]
    /// Unit-length outputs z (capacity × dimension).
    package private(set) var output: UnsafeMutablePointer<Float>
    private var inverseNorms: UnsafeMutablePointer<Float>
    private var gradientA: UnsafeMutablePointer<Float>
    private var gradientB: UnsafeMutablePointer<Float>
    /// The batch of the last `forward`, for `backward`.
    private var lastBatch: TowerBatch?
    /// Threads for the dense layers' `sgemm` (set by the trainer).
    package var threads = 1

    /// `hiddenWidths` are the MLP's hidden layers (empty: no MLP); embeddings start N(0, 0.1²).
    init(entityCount: Int, dimension: Int, hiddenWidths: [Int], fieldSizes: [Int],
         batchCapacity: Int, generator: inout SeededGenerator) {
        self.entityCount = entityCount
        self.dimension = dimension
        self.fieldSizes = fieldSizes
        idTable = EmbeddingTable(rows: entityCount, dimension: dimension, batchCapacity: batchCapacity)
        idTable.parameters.fillGaussian(std: 0.1, generator: &generator)
        fieldTables = fieldSizes.map { size in
            let t = EmbeddingTable(rows: size, dimension: dimension, batchCapacity: min(size, batchCapacity))
            t.parameters.fillGaussian(std: 0.1, generator: &generator)
            return t
        }
        widths = hiddenWidths.isEmpty ? [dimension] : [dimension] + hiddenWidths + [dimension]
        var layers: [DenseLayer] = []
        for l in 0..<(widths.count - 1) {
            layers.append(DenseLayer(inputWidth: widths[l], outputWidth: widths[l + 1], generator: &generator))
        }
        self.layers = layers
        output = AlignedMemory.allocate(Float.self, count: 1)
        inverseNorms = AlignedMemory.allocate(Float.self, count: 1)
        gradientA = AlignedMemory.allocate(Float.self, count: 1)
        gradientB = AlignedMemory.allocate(Float.self, count: 1)
    }

    deinit {
        activations.forEach { AlignedMemory.free($0) }
        AlignedMemory.free(output)
        AlignedMemory.free(inverseNorms)
        AlignedMemory.free(gradientA)
        AlignedMemory.free(gradientB)
    }

    /// Every trainable buffer, in the fixed order the model file stores them.
    package var parameterBuffers: [ParameterBuffer] {
        [idTable.parameters] + fieldTables.map(\.parameters) + layers.flatMap { [$0.weight, $0.bias] }
    }

    private func reserve(_ n: Int) {
        guard n > capacity else { return }
        let newCapacity = max(n, capacity * 2)
        activations.forEach { AlignedMemory.free($0) }
        activations = widths.map { AlignedMemory.allocate(Float.self, count: newCapacity * $0, repeating: 0) }
        let widest = widths.max()!
        for p in [output, inverseNorms, gradientA, gradientB] { AlignedMemory.free(p) }
        output = AlignedMemory.allocate(Float.self, count: newCapacity * dimension, repeating: 0)
        inverseNorms = AlignedMemory.allocate(Float.self, count: newCapacity, repeating: 0)
        gradientA = AlignedMemory.allocate(Float.self, count: newCapacity * widest, repeating: 0)
        gradientB = AlignedMemory.allocate(Float.self, count: newCapacity * widest, repeating: 0)
        capacity = newCapacity
    }

    /// Computes z for `batch`; returns `output` (batch.count × dimension). The batch is kept
    /// for `backward`.
    @discardableResult
    package func forward(_ batch: TowerBatch) -> UnsafeMutablePointer<Float> {
        precondition(batch.fieldCount == fieldSizes.count)
        let n = batch.count
        reserve(n)
        lastBatch = batch
        let d = dimension
        let x0 = activations[0]
        for (r, e) in batch.ids.enumerated() {
            if e >= 0 { (x0 + r * d).update(from: idTable.row(Int(e)), count: d) } else { (x0 + r * d).update(repeating: 0, count: d) }
        }
        for f in 0..<fieldSizes.count {
            let table = fieldTables[f].parameters.values
            batch.offsets[f].withUnsafeBufferPointer { offsets in
                batch.rows[f].withUnsafeBufferPointer { rows in
                    batch.weights[f].withUnsafeBufferPointer { weights in
                        for r in 0..<n {
                            let out = x0 + r * d
                            for k in Int(offsets[r])..<Int(offsets[r + 1]) {
                                let src = table + Int(rows[k]) * d, w = weights[k]
                                for j in 0..<d { out[j] += w * src[j] }
                            }
                        }
                    }
                }
            }
        }
        for (l, layer) in layers.enumerated() {
            let y = activations[l + 1]
            layer.forward(activations[l], count: n, into: y, threads: threads)
            if l + 1 < layers.count {
                for j in 0..<(n * layer.outputWidth) where y[j] < 0 { y[j] = 0 }
            }
        }
        let xL = activations[layers.count]
        for r in 0..<n {
            let x = xL + r * d, z = output + r * d
            var sq: Float = 0
            for j in 0..<d { sq += x[j] * x[j] }
            let inv = 1 / max(sq.squareRoot(), 1e-12)
            inverseNorms[r] = inv
            for j in 0..<d { z[j] = x[j] * inv }
        }
        return output
    }

    /// Back-propagates dL/dz (n × dimension, for the batch of the last `forward`) into the
    /// layers' dense gradients and the tables' sparse gradients.
    package func backward(_ dz: UnsafePointer<Float>) {
        guard let batch = lastBatch else { preconditionFailure("backward before forward") }
        let n = batch.count, d = dimension
        // Through the normalisation: dx = (dz − z·(z·dz)) / ‖x‖.
        var dx = gradientA
        for r in 0..<n {
            let z = output + r * d, g = dz + r * d, out = dx + r * d
            var dot: Float = 0
            for j in 0..<d { dot += z[j] * g[j] }
            let inv = inverseNorms[r]
            for j in 0..<d { out[j] = (g[j] - z[j] * dot) * inv }
        }
        var spare = gradientB
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[l]
            if l + 1 < layers.count {
                let y = activations[l + 1]
                for j in 0..<(n * layer.outputWidth) where y[j] <= 0 { dx[j] = 0 }
            }
            layer.backward(activations[l], dx, count: n, dx: spare, threads: threads)
            swap(&dx, &spare)
        }
        let gradient = UnsafePointer(dx)
        for (r, e) in batch.ids.enumerated() where e >= 0 { idTable.gradient.add(row: Int(e), gradient + r * d) }
        for f in 0..<fieldSizes.count {
            let sparse = fieldTables[f].gradient
            batch.offsets[f].withUnsafeBufferPointer { offsets in
                batch.rows[f].withUnsafeBufferPointer { rows in
                    batch.weights[f].withUnsafeBufferPointer { weights in
                        for r in 0..<n {
                            for k in Int(offsets[r])..<Int(offsets[r + 1]) { sparse.add(row: Int(rows[k]), gradient + r * d, scale: weights[k]) }
                        }
                    }
                }
            }
        }
    }

    /// Applies and clears every accumulated gradient. `step` counts from 1.
    package func applyGradients(embeddingOptimizer: EmbeddingOptimizer, embedding: AdamHyperparameters,
                        dense: AdamHyperparameters, step: Int) {
        idTable.applyGradient(embeddingOptimizer, embedding, step: step, threads: threads)
        for t in fieldTables { t.applyGradient(embeddingOptimizer, embedding, step: step, threads: threads) }
        for layer in layers {
            for p in [layer.weight, layer.bias] {
                p.adamStep(dense, step: step)
                p.zeroGradient()
            }
        }
    }
}
