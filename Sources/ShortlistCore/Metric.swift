/// How two vectors are compared.
///
/// Inside the library every distance is "smaller is closer": squared L2 for `.l2`, the negated
/// inner product for `.ip` and `.cosine`. Cosine vectors are L2-normalised when they are inserted
/// and when they are queried, then compared by inner product (ARCHITECTURE.md, "Distances").
public enum Metric: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Squared Euclidean distance ‖q − x‖².
    case l2
    /// Maximum inner product; distance is −q·x.
    case ip
    /// Cosine similarity; vectors are normalised at insert and at query, distance is −q̂·x̂.
    case cosine

    public var description: String { rawValue }

    /// The stable code stored in index files. Never renumber.
    public var code: UInt32 {
        switch self {
        case .l2: return 0
        case .ip: return 1
        case .cosine: return 2
        }
    }

    /// The metric with the given file code, or nil for an unknown code.
    public init?(code: UInt32) {
        switch code {
        case 0: self = .l2
        case 1: self = .ip
        case 2: self = .cosine
        default: return nil
        }
    }

    /// Parses `l2`, `ip`, `cosine` and the common aliases (`euclidean`, `dot`, `inner_product`, `cos`, `angular`).
    public init?(name: String) {
        switch name.lowercased() {
        case "l2", "euclidean", "l2sq": self = .l2
        case "ip", "dot", "inner_product", "innerproduct", "mips": self = .ip
        case "cosine", "cos", "angular": self = .cosine
        default: return nil
        }
    }

    /// Whether vectors are L2-normalised on the way in.
    public var normalizesVectors: Bool { self == .cosine }

    /// Converts an internal distance (smaller is closer) into the wire score (higher is better):
    /// negated squared L2, the dot product, or the cosine similarity.
    @inlinable
    public func score(fromDistance distance: Float) -> Float { -distance }
}
