import Foundation
import ShortlistCore

/// What both tuning search spaces (`ALSSearchSpace`, `TwoTowerSearchSpace`) do with a range of a
/// continuous setting: place an anchor inside it, and draw a candidate from it.
extension ClosedRange where Bound == Float {
    /// `value` moved into the range.
    func clamped(_ value: Float) -> Float { Swift.min(Swift.max(value, lowerBound), upperBound) }

    /// A log-uniform draw, rounded to three significant digits so logs and files read cleanly.
    func logUniform(_ g: inout SeededGenerator) -> Float {
        guard lowerBound < upperBound else { return lowerBound }
        let lo = log(Double(lowerBound)), hi = log(Double(upperBound))
        let v = exp(lo + (hi - lo) * g.nextUnitDouble())
        let scale = pow(10, floor(log10(v)) - 2)
        return Float((v / scale).rounded() * scale)
    }
}
