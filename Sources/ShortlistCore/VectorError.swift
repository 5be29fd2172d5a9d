/// Errors about the contents or shape of vectors, shared by every module.
public enum VectorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A vector has `actual` components where `expected` were required.
    case dimensionMismatch(expected: Int, actual: Int)
    /// Component `column` of row `row` is NaN or infinite.
    case nonFinite(row: Int, column: Int)
    /// Row `row` has zero length, so it has no direction (cosine is undefined).
    case zeroNorm(row: Int)
    /// The dimension must be at least 1 (and at most `VectorMatrix.maximumDimension`).
    case invalidDimension(Int)
    /// `k` must be at least 1 (and at most the given maximum).
    case invalidK(Int, maximum: Int)

    public var description: String {
        switch self {
        case let .dimensionMismatch(expected, actual):
            return "dimension mismatch: expected \(expected) components, got \(actual)"
        case let .nonFinite(row, column):
            return "row \(row), component \(column) is NaN or infinite"
        case let .zeroNorm(row):
            return "row \(row) is the zero vector, which has no direction under the cosine metric"
        case let .invalidDimension(d):
            return "invalid dimension \(d): must be between 1 and \(VectorMatrix.maximumDimension)"
        case let .invalidK(k, maximum):
            return "invalid k \(k): must be between 1 and \(maximum)"
        }
    }
}
