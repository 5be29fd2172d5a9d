import ShortlistCore
import ShortlistData
@testable import ShortlistTrainer
import ShortlistFeatures
@testable import ShortlistModel
import XCTest

/// Every layer of a tower (feature pooling, dense layers with ReLU, L2 normalisation) against
/// central finite differences of f = Σ w ⊙ z for fixed random weights w.
final class TowerGradientTests: XCTestCase {
    private func makeTower(hidden: [Int], fields: [FeatureField], seed: UInt64 = 5) -> Tower {
        var generator = SeededGenerator(seed: seed)
        return Tower(entityCount: 5, dimension: 4, hiddenWidths: hidden, fieldSizes: fields.map(\.vocabularySize), batchCapacity: 8, generator: &generator)
    }

    /// Entity rows with their stored bags (mean), and one weighted field when `weighted`: each
    /// row's bag is a recency-weighted history of rows.
    private func batch(_ rows: [Int32], fields: [FeatureField], weightedRows: Int = 0) -> TowerBatch {
        let batch = TowerBatch(fieldCount: fields.count + (weightedRows > 0 ? 1 : 0))
        for (k, e) in rows.enumerated() {
            // Row 3 has no id: its output comes from its bags alone.
            batch.beginRow(id: k == 3 && !fields.isEmpty ? -1 : e)
            for (f, field) in fields.enumerated() { batch.addMean(f, field.indices(of: Int(e))) }
            if weightedRows > 0 {
                batch.addRecent(fields.count, (0..<Int32(weightedRows)).map { ($0 + e) % Int32(weightedRows) }, length: 3, decay: 0.6)
            }
        }
        return batch
    }

    private var currentBatch: TowerBatch!

    private func objective(_ tower: Tower, _ batch: [Int32], _ w: [Float]) -> Double {
        let z = tower.forward(currentBatch)
        var f = 0.0
        for i in 0..<w.count { f += Double(w[i]) * Double(z[i]) }
        return f
    }

    private func check(hidden: [Int], fields: [FeatureField], weightedRows: Int = 0) {
        let sizes = fields + (weightedRows > 0 ? [FeatureField(name: "recent", vocabularySize: weightedRows, bags: [[], [], [], [], []])] : [])
        let tower = makeTower(hidden: hidden, fields: sizes)
        let batch: [Int32] = [0, 2, 2, 4, 1]
        currentBatch = self.batch(batch, fields: fields, weightedRows: weightedRows)
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
            let touched = batch.enumerated().contains { $0.element == Int32(row) && !($0.offset == 3 && !fields.isEmpty) }
            XCTAssertEqual(g != nil, touched, "row \(row) touched")
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

    func testRecencyWeightedHistoryAndRowsWithoutId() {
        let genres = FeatureField(name: "genres", vocabularySize: 3, bags: [[0, 1], [], [2], [0, 1, 2], [1]])
        check(hidden: [6], fields: [genres], weightedRows: 4)
    }

    func testOutputsAreUnitLength() {
        let tower = makeTower(hidden: [8], fields: [])
        let z = tower.forward(batch([0, 1, 2, 3, 4], fields: []))
        for r in 0..<5 {
            var sq: Float = 0
            for j in 0..<4 { sq += z[r * 4 + j] * z[r * 4 + j] }
            XCTAssertEqual(sq, 1, accuracy: 1e-5)
        }
    }
}
