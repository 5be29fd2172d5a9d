/// The kinds of index a file can hold, with their stable file codes. Never renumber.
public enum IndexKind: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// Exact search over all vectors.
    case flat = 1
    /// A hierarchical navigable small-world graph.
    case hnsw = 2
    /// Inverted lists of product-quantized residuals.
    case ivfpq = 3

    public var description: String {
        switch self {
        case .flat: return "Flat"
        case .hnsw: return "HNSW"
        case .ivfpq: return "IVF-PQ"
        }
    }
}
