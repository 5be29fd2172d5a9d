import ShortlistCore
import ShortlistData
@testable import ShortlistTrainer
import XCTest

/// Every layer of a tower (feature pooling, dense layers with ReLU, L2 normalisation) against
/// central finite differences of f = Σ w ⊙ z for fixed random weights w.
final class TowerGradientTests: XCTestCase {
    private func makeTower(hidden: [Int], fields: [FeatureField], seed: UInt64 = 5) -> Tower {
        var generator = SeededGenerator(seed: seed)
        return Tower(entityCount: 5, dimension: 4, hiddenWidths: hidden, fields: fields, batchCapacity: 8, generator: &generator)
    }

    private func objective(_ tower: Tower, _ batch: [Int32], _ w: [Float]) -> Double {
        let z = batch.withUnsafeBufferPointer { tower.forward($0) }
        var f = 0.0
        for i in 0..<w.count { f += Double(w[i]) * Double(z[i]) }
        return f
    }

    private func check(hidden: [Int], fields: [FeatureField]) {
        let tower = makeTower(hidden: hidden, fields: fields)
        let batch: [Int32] = [0, 2, 2, 4, 1]
        var generator = SeededGenerator(seed: 9)
        let w = (0..<(batch.count * 4)).map { _ in generator.nextGaussian() }
        _ = objective(tower, batch, w)
        w.withUnsafeBufferPointer { tower.backward($0.baseAddress!) }
        let h: Float = 1e-3
        func numeric(_ p: UnsafeMutablePointer<Float>) -> Double {
            let saved = p.pointee
            p.pointee = saved + h
            let plus = objective(tower, batch, w)
            p.pointee = saved - h
            let minus = objective(tower, batch, w)
            p.pointee = saved
            return (plus - minus) / (2 * Double(h))
        }
        func expectClose(_ analytic: Float, _ numeric: Double, _ what: String) {
            XCTAssertEqual(Double(analytic), numeric, accuracy: 3e-3 + 2e-2 * abs(numeric), what)
        }
        // Dense layers (weights and biases).
        for (l, layer) in tower.layers.enumerated() {
            for p in [layer.weight, layer.bias] {
                for k in 0..<p.count { expectClose(p.gradient[k], numeric(p.values + k), "layer \(l) parameter \(k)") }
            }
        }
        // Id rows: touched rows carry the gradient, untouched rows have none.
        for row in 0..<5 {
            let g = tower.idTable.gradient.gradient(of: row)
            XCTAssertEqual(g != nil, batch.contains(Int32(row)), "row \(row) touched")
            for j in 0..<4 { expectClose(g?[j] ?? 0, numeric(tower.idTable.row(row) + j), "id row \(row)[\(j)]") }
        }
        for (f, table) in tower.fieldTables.enumerated() {
            for row in 0..<table.rows {
                for j in 0..<4 { expectClose(table.gradient.gradient(of: row)?[j] ?? 0, numeric(table.row(row) + j), "field \(f) row \(row)[\(j)]") }
            }
        }
    }

    func testNormalisationOnly() { check(hidden: [], fields: []) }

    func testMLPWithReLU() { check(hidden: [6], fields: []) }

    func testTwoHiddenLayersAndFeatureFields() {
        let genres = FeatureField(name: "genres", vocabularySize: 3, bags: [[0, 1], [], [2], [0, 1, 2], [1]])
        let age = FeatureField(name: "age", vocabularySize: 2, bags: [[0], [1], [1], [], [0]])
        check(hidden: [7, 5], fields: [genres, age])
    }

    func testOutputsAreUnitLength() {
        let tower = makeTower(hidden: [8], fields: [])
        let z = [Int32(0), 1, 2, 3, 4].withUnsafeBufferPointer { tower.forward($0) }
        for r in 0..<5 {
            var sq: Float = 0
            for j in 0..<4 { sq += z[r * 4 + j] * z[r * 4 + j] }
            XCTAssertEqual(sq, 1, accuracy: 1e-5)
        }
    }
}
