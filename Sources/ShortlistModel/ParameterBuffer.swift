import Foundation
import ShortlistCore

/// A flat, 64-byte aligned block of trainable floats with its gradient and optimiser state
/// (Adam's first and second moments, or Adagrad's accumulator in `secondMoment`).
package final class ParameterBuffer: @unchecked Sendable {
    /// Number of floats.
    package let count: Int
    /// The values.
    package let values: UnsafeMutablePointer<Float>
    /// Dense gradient (used by dense layers and the temperature; embedding tables use
    /// `SparseGradient` instead and leave it zero).
    package let gradient: UnsafeMutablePointer<Float>
    /// Adam's first moment.
    package let firstMoment: UnsafeMutablePointer<Float>
    /// Adam's second moment, or the Adagrad accumulator.
    package let secondMoment: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        values = AlignedMemory.allocate(Float.self, count: max(count, 1), repeating: 0)
        gradient = AlignedMemory.allocate(Float.self, count: max(count, 1), repeating: 0)
        firstMoment = AlignedMemory.allocate(Float.self, count: max(count, 1), repeating: 0)
        secondMoment = AlignedMemory.allocate(Float.self, count: max(count, 1), repeating: 0)
    }

    deinit {
        AlignedMemory.free(values)
        AlignedMemory.free(gradient)
        AlignedMemory.free(firstMoment)
        AlignedMemory.free(secondMoment)
    }

    /// Fills the values with N(0, std²) draws.
    func fillGaussian(std: Float, generator: inout SeededGenerator) {
        for i in 0..<count { values[i] = generator.nextGaussian() * std }
    }

    /// Fills the values uniformly in [-bound, bound) (Kaiming-uniform style layer init).
    func fillUniform(bound: Float, generator: inout SeededGenerator) {
        for i in 0..<count { values[i] = (generator.nextUnitFloat() * 2 - 1) * bound }
    }

    package func zeroGradient() { gradient.update(repeating: 0, count: count) }

    /// One dense Adam step over every value with the accumulated gradient; `step` counts from 1.
    package func adamStep(_ hyper: AdamHyperparameters, step: Int) {
        hyper.update(values: values, firstMoment: firstMoment, secondMoment: secondMoment, gradient: gradient,
                     count: count, step: step)
    }

    /// A copy of the values.
    package var valueArray: [Float] { Array(UnsafeBufferPointer(start: values, count: count)) }
}

/// Adam's settings: learning rate (default 5e-3, the step size), β₁ 0.9, β₂ 0.999, ε 1e-8, and
/// decoupled weight decay λ (AdamW; default 0).
package struct AdamHyperparameters: Sendable {
    package var learningRate: Float
    package var weightDecay: Float = 0
    package var beta1: Float = 0.9
    package var beta2: Float = 0.999
    package var epsilon: Float = 1e-8

    package init(learningRate: Float, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// What an update keeps of each value before its step: 1 − lr·λ.
    var decayFactor: Float { 1 - learningRate * weightDecay }

    /// Adam on `count` values (PyTorch's formulation, bias-corrected for global step `step` ≥ 1):
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w·(1 − lr·λ) − lr·m̂/(√v̂ + ε).
    @inline(__always)
    func update(values w: UnsafeMutablePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
                secondMoment v: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count: Int, step: Int) {
        update(values: w, firstMoment: m, secondMoment: v, gradient: g, count: count, corrected: corrected(step: step))
    }

    /// The bias-corrected step size and ε of global step `step` (computed once per step).
    func corrected(step: Int) -> (learningRate: Float, epsilon: Float) {
        let c1 = 1 - Float(pow(Double(beta1), Double(step))), c2 = 1 - Float(pow(Double(beta2), Double(step)))
        return (learningRate * c2.squareRoot() / c1, epsilon * c2.squareRoot())
    }

    @inline(__always)
    func update(values w: UnsafeMutablePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
                secondMoment v: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>, count: Int,
                corrected: (learningRate: Float, epsilon: Float)) {
        let lr = corrected.learningRate, eps = corrected.epsilon
        let b1 = beta1, b2 = beta2, keep = decayFactor
        for j in 0..<count {
            let gj = g[j]
            let mj = b1 * m[j] + (1 - b1) * gj
            let vj = b2 * v[j] + (1 - b2) * gj * gj
            m[j] = mj
            v[j] = vj
            w[j] = w[j] * keep - lr * mj / (vj.squareRoot() + eps)
        }
    }
}
