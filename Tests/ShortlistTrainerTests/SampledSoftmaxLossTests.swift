import Foundation
import ShortlistCore
@testable import ShortlistModel
@testable import ShortlistTrainer
import XCTest

/// The loss against a double-precision reference that spells out the log-Q correction and the
/// accidental-hit mask, and its gradients against finite differences of that reference.
final class SampledSoftmaxLossTests: XCTestCase {
    /// −mean_r log softmax_c(scale·u_r·i_c − corr_c, masked where item_c == item_r and c ≠ r)[r].
    private func referenceLoss(users: [Double], items: [Double], b: Int, c: Int, d: Int, columnItems: [Int32],
                               corrections: [Double]?, scale: Double) -> Double {
        var total = 0.0
        for r in 0..<b {
            var logits: [Double] = []
            for col in 0..<c {
                if col != r && columnItems[col] == columnItems[r] { continue }
                var dot = 0.0
                for j in 0..<d { dot += users[r * d + j] * items[col * d + j] }
                logits.append(scale * dot - (corrections?[col] ?? 0))
            }
            var positive = 0.0
            for j in 0..<d { positive += users[r * d + j] * items[r * d + j] }
            positive = scale * positive - (corrections?[r] ?? 0)
            let mx = logits.max()!
            total += mx + log(logits.reduce(0) { $0 + exp($1 - mx) }) - positive
        }
        return total / Double(b)
    }

    private func run(b: Int, columnItems: [Int32], d: Int, withCorrections: Bool, seed: UInt64) {
        let c = columnItems.count
        var generator = SeededGenerator(seed: seed)
        let users = (0..<(b * d)).map { _ in generator.nextGaussian() * 0.5 }
        let items = (0..<(c * d)).map { _ in generator.nextGaussian() * 0.5 }
        let corrections: [Float]? = withCorrections ? (0..<c).map { _ in generator.nextGaussian() } : nil
        let scale: Float = 3
        var ug = [Float](repeating: 0, count: b * d), ig = [Float](repeating: 0, count: c * d)
        var cg = [Float](repeating: 0, count: c)
        let loss = SampledSoftmaxLoss()
        let result = columnItems.withUnsafeBufferPointer { cols in
            loss.compute(users: users, rowCount: b, items: items, columnCount: c, dimension: d, columnItems: cols,
                         corrections: corrections, scale: scale, userGradient: &ug, itemGradient: &ig,
                         columnGradient: &cg, threads: 2)
        }
        let du = users.map(Double.init), di = items.map(Double.init), dc = corrections?.map(Double.init)
        let ref = referenceLoss(users: du, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: Double(scale))
        XCTAssertEqual(Double(result.loss), ref, accuracy: 1e-4 * max(1, abs(ref)))
        let h = 1e-4
        for k in 0..<(b * d) {
            var plus = du, minus = du
            plus[k] += h; minus[k] -= h
            let numeric = (referenceLoss(users: plus, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: Double(scale))
                - referenceLoss(users: minus, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: Double(scale))) / (2 * h)
            XCTAssertEqual(Double(ug[k]), numeric, accuracy: 2e-4 + 1e-3 * abs(numeric), "user gradient \(k)")
        }
        for k in 0..<(c * d) {
            var plus = di, minus = di
            plus[k] += h; minus[k] -= h
            let numeric = (referenceLoss(users: du, items: plus, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: Double(scale))
                - referenceLoss(users: du, items: minus, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: Double(scale))) / (2 * h)
            XCTAssertEqual(Double(ig[k]), numeric, accuracy: 2e-4 + 1e-3 * abs(numeric), "item gradient \(k)")
        }
        // The column gradient is d loss / d(additive column term) = −d loss / d correction.
        let base = dc ?? [Double](repeating: 0, count: c)
        for col in 0..<c {
            var plus = base, minus = base
            plus[col] -= h; minus[col] += h
            let numeric = (referenceLoss(users: du, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: plus, scale: Double(scale))
                - referenceLoss(users: du, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: minus, scale: Double(scale))) / (2 * h)
            XCTAssertEqual(Double(cg[col]), numeric, accuracy: 2e-4 + 1e-3 * abs(numeric), "column gradient \(col)")
        }
        // d loss / d log(scale) = scale · d loss / d scale.
        let s = Double(scale)
        let numeric = (referenceLoss(users: du, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: s * exp(h))
            - referenceLoss(users: du, items: di, b: b, c: c, d: d, columnItems: columnItems, corrections: dc, scale: s * exp(-h))) / (2 * h)
        XCTAssertEqual(Double(result.logScaleGradient), numeric, accuracy: 2e-4 + 1e-3 * abs(numeric))
    }

    func testHandMadeBatchWithAccidentalHitsAndUniformNegatives() {
        // Rows 0 and 1 share item 5 (each masks the other's column); row 2's item 7 also fills
        // the extra negative column 3, which row 2 must not count as a negative.
        run(b: 3, columnItems: [5, 5, 7, 7], d: 4, withCorrections: true, seed: 1)
    }

    func testGradientsMatchFiniteDifferencesWithoutCorrection() {
        run(b: 6, columnItems: [0, 1, 2, 3, 1, 4, 9, 0], d: 5, withCorrections: false, seed: 2)
    }

    func testMaskedColumnDoesNotChangeItsRowsLoss() {
        // Row 0's positive is item 5; column 1 also holds item 5. Moving column 1's vector must
        // leave row 0's contribution alone, so with b = 1... use rows 0 only.
        let d = 3
        var generator = SeededGenerator(seed: 4)
        let users = (0..<d).map { _ in generator.nextGaussian() }
        var items = (0..<(3 * d)).map { _ in generator.nextGaussian() }
        let loss = SampledSoftmaxLoss()
        var ug = [Float](repeating: 0, count: d), ig = [Float](repeating: 0, count: 3 * d)
        func value() -> Float {
            [Int32(5), 5, 6].withUnsafeBufferPointer { cols in
                loss.compute(users: users, rowCount: 1, items: items, columnCount: 3, dimension: d, columnItems: cols,
                             corrections: nil, scale: 5, userGradient: &ug, itemGradient: &ig, threads: 1).loss
            }
        }
        let before = value()
        XCTAssertEqual(Array(ig[d..<(2 * d)]), [0, 0, 0], "a masked column gets no gradient")
        for j in d..<(2 * d) { items[j] += 10 }
        XCTAssertEqual(value(), before)
        items[2 * d] += 1
        XCTAssertNotEqual(value(), before, "an unmasked negative does change the loss")
    }

    func testLogQCorrectionFavoursRareItemsAsNegatives() {
        // Identical geometry; subtracting a larger correction from a negative lowers its logit
        // and so the loss.
        let d = 2
        let users: [Float] = [1, 0]
        let items: [Float] = [1, 0, 0.5, 0.5]
        let loss = SampledSoftmaxLoss()
        var ug = [Float](repeating: 0, count: d), ig = [Float](repeating: 0, count: 2 * d)
        func value(_ corrections: [Float]) -> Float {
            [Int32(0), 1].withUnsafeBufferPointer { cols in
                loss.compute(users: users, rowCount: 1, items: items, columnCount: 2, dimension: d, columnItems: cols,
                             corrections: corrections, scale: 1, userGradient: &ug, itemGradient: &ig, threads: 1).loss
            }
        }
        // log softmax by hand: logits [1 − c0, 0.5 − c1].
        for (c0, c1) in [(Float(0), Float(0)), (0, 2), (-1, 0.5)] {
            let l0 = 1 - c0, l1 = 0.5 - c1
            let expected = log(exp(l0) + exp(l1)) - l0
            XCTAssertEqual(value([c0, c1]), expected, accuracy: 1e-5)
        }
        XCTAssertLessThan(value([0, 2]), value([0, 0]))
    }
}
