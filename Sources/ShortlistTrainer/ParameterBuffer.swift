import Foundation
import ShortlistCore

/// A flat, 64-byte aligned block of trainable floats with its gradient and optimiser state
/// (Adam's first and second moments, or Adagrad's accumulator in `secondMoment`).
final class ParameterBuffer: @unchecked Sendable {
    /// Number of floats.
    let count: Int
    /// The values.
    let values: UnsafeMutablePointer<Float>
    /// Dense gradient (used by dense layers and the temperature; embedding tables use
    /// `SparseGradient` instead and leave it zero).
    let gradient: UnsafeMutablePointer<Float>
    /// Adam's first moment.
    let firstMoment: UnsafeMutablePointer<Float>
    /// Adam's second moment, or the Adagrad accumulator.
    let secondMoment: UnsafeMutablePointer<Float>

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

    func zeroGradient() { gradient.update(repeating: 0, count: count) }

    /// One dense Adam step over every value with the accumulated gradient; `step` counts from 1.
    func adamStep(_ hyper: AdamHyperparameters, step: Int) {
        let b1 = hyper.beta1, b2 = hyper.beta2
        let c1 = 1 - Float(pow(Double(b1), Double(step))), c2 = 1 - Float(pow(Double(b2), Double(step)))
        let lr = hyper.learningRate * c2.squareRoot() / c1
        let eps = hyper.epsilon * c2.squareRoot()
        for i in 0..<count {
            let g = gradient[i]
            let m = b1 * firstMoment[i] + (1 - b1) * g
            let v = b2 * secondMoment[i] + (1 - b2) * g * g
            firstMoment[i] = m
            secondMoment[i] = v
            values[i] -= lr * m / (v.squareRoot() + eps)
        }
    }

    /// A copy of the values.
    var valueArray: [Float] { Array(UnsafeBufferPointer(start: values, count: count)) }
}

/// Adam's settings: learning rate (default 5e-3, the step size), β₁ 0.9, β₂ 0.999, ε 1e-8.
struct AdamHyperparameters: Sendable {
    var learningRate: Float
    var beta1: Float = 0.9
    var beta2: Float = 0.999
    var epsilon: Float = 1e-8
}
