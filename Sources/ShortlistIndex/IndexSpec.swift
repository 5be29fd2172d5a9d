/// A parsed index description string, FAISS-style: comma-separated components, e.g. `"Flat"`.
///
/// Parsing lives only here; `description` gives back the canonical string, so
/// `IndexSpec(parsing: s).description` round-trips.
public enum IndexSpec: Equatable, Sendable, CustomStringConvertible {
    /// Exact search: every query is compared with every vector (SIMD scan; BLAS for batches).
    case flat
    /// A hierarchical navigable small-world graph with `m` links per node (2m on layer 0): `HNSW16`.
    case hnsw(m: Int)

    /// Parses a spec string (case-insensitive, spaces ignored).
    public init(parsing text: String) throws {
        let cleaned = text.filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard !cleaned.isEmpty else { throw IndexError.invalidSpec(text, reason: "the spec is empty") }
        let supported = "this build supports Flat and HNSW<m> (e.g. HNSW16, m in \(HNSWConfiguration.mRange))"
        switch parts.count == 1 ? parts[0] : "" {
        case "flat":
            self = .flat
        case let p where p.hasPrefix("hnsw"):
            guard let m = Int(p.dropFirst(4)), HNSWConfiguration.mRange.contains(m) else {
                throw IndexError.invalidSpec(text, reason: supported)
            }
            self = .hnsw(m: m)
        default:
            throw IndexError.invalidSpec(text, reason: supported)
        }
    }

    public var description: String {
        switch self {
        case .flat: return "Flat"
        case let .hnsw(m): return "HNSW\(m)"
        }
    }

    /// The kind of index this spec builds.
    public var kind: IndexKind {
        switch self {
        case .flat: return .flat
        case .hnsw: return .hnsw
        }
    }
}
