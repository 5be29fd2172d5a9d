/// A parsed index description string, FAISS-style: comma-separated components, e.g. `"Flat"`.
///
/// Parsing lives only here; `description` gives back the canonical string, so
/// `IndexSpec(parsing: s).description` round-trips.
public enum IndexSpec: Equatable, Sendable, CustomStringConvertible {
    /// Exact search: every query is compared with every vector (SIMD scan; BLAS for batches).
    case flat
    /// A hierarchical navigable small-world graph with `m` links per node (2m on layer 0):
    /// `HNSW16`, or `HNSW16,SQfp16` to hold vectors in half precision.
    case hnsw(m: Int, storage: VectorStorage)

    /// Parses a spec string (case-insensitive, spaces ignored).
    public init(parsing text: String) throws {
        let cleaned = text.filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard !cleaned.isEmpty else { throw IndexError.invalidSpec(text, reason: "the spec is empty") }
        let supported = "this build supports Flat, HNSW<m> and HNSW<m>,SQfp16 (e.g. HNSW16, m in \(HNSWConfiguration.mRange))"
        switch (parts.first ?? "", parts.dropFirst().joined(separator: ",")) {
        case ("flat", ""):
            self = .flat
        case let (p, storage) where p.hasPrefix("hnsw") && (storage == "" || storage == "sqfp16"):
            guard let m = Int(p.dropFirst(4)), HNSWConfiguration.mRange.contains(m) else {
                throw IndexError.invalidSpec(text, reason: supported)
            }
            self = .hnsw(m: m, storage: storage == "" ? .float32 : .float16)
        default:
            throw IndexError.invalidSpec(text, reason: supported)
        }
    }

    public var description: String {
        switch self {
        case .flat: return "Flat"
        case let .hnsw(m, storage): return "HNSW\(m)" + (storage == .float16 ? ",SQfp16" : "")
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
