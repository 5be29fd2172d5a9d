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
    /// Inverted lists over `nlist` coarse centroids, residuals product-quantized into `m` bytes,
    /// optionally re-ranked exactly (`Refine`): `IVF1024,PQ16` or `IVF1024,PQ16,Refine`.
    case ivfpq(nlist: Int, m: Int, refine: Bool)

    /// Parses a spec string (case-insensitive, spaces ignored).
    public init(parsing text: String) throws {
        let cleaned = text.filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard !cleaned.isEmpty else { throw IndexError.invalidSpec(text, reason: "the spec is empty") }
        let supported = "this build supports Flat, HNSW<m>, HNSW<m>,SQfp16, IVF<nlist>,PQ<m> and IVF<nlist>,PQ<m>,Refine (e.g. HNSW16, IVF1024,PQ16)"
        switch (parts.first ?? "", parts.dropFirst().joined(separator: ",")) {
        case ("flat", ""):
            self = .flat
        case let (p, storage) where p.hasPrefix("hnsw") && (storage == "" || storage == "sqfp16"):
            guard let m = Int(p.dropFirst(4)), HNSWConfiguration.mRange.contains(m) else {
                throw IndexError.invalidSpec(text, reason: supported)
            }
            self = .hnsw(m: m, storage: storage == "" ? .float32 : .float16)
        case let (p, rest) where p.hasPrefix("ivf"):
            let tail = rest.split(separator: ",").map(String.init)
            guard let nlist = Int(p.dropFirst(3)), IVFPQConfiguration.nlistRange.contains(nlist),
                  let pq = tail.first, pq.hasPrefix("pq"), let m = Int(pq.dropFirst(2)), IVFPQConfiguration.mRange.contains(m),
                  tail.count == 1 || (tail.count == 2 && tail[1] == "refine") else {
                if rest.contains("x4") || p.hasPrefix("opq") {
                    throw IndexError.invalidSpec(text, reason: "4-bit fast scan and OPQ are not in this build yet; \(supported)")
                }
                throw IndexError.invalidSpec(text, reason: supported)
            }
            self = .ivfpq(nlist: nlist, m: m, refine: tail.count == 2)
        case let (p, _) where p.hasPrefix("opq"):
            throw IndexError.invalidSpec(text, reason: "OPQ is not in this build yet; \(supported)")
        default:
            throw IndexError.invalidSpec(text, reason: supported)
        }
    }

    public var description: String {
        switch self {
        case .flat: return "Flat"
        case let .hnsw(m, storage): return "HNSW\(m)" + (storage == .float16 ? ",SQfp16" : "")
        case let .ivfpq(nlist, m, refine): return "IVF\(nlist),PQ\(m)" + (refine ? ",Refine" : "")
        }
    }

    /// The kind of index this spec builds.
    public var kind: IndexKind {
        switch self {
        case .flat: return .flat
        case .hnsw: return .hnsw
        case .ivfpq: return .ivfpq
        }
    }
}
