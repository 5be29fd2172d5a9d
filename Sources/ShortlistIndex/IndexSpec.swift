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
    /// optionally after a learned rotation (`OPQ<m>,` first) and re-ranked exactly (`,Refine`):
    /// `IVF1024,PQ16`, `OPQ16,IVF1024,PQ16,Refine`.
    case ivfpq(nlist: Int, m: Int, refine: Bool, opq: Bool = false)

    /// Parses a spec string (case-insensitive, spaces ignored).
    public init(parsing text: String) throws {
        let cleaned = text.filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard !cleaned.isEmpty else { throw IndexError.invalidSpec(text, reason: "the spec is empty") }
        let supported = "this build supports Flat, HNSW<m>, HNSW<m>,SQfp16, and [OPQ<m>,]IVF<nlist>,PQ<m>[,Refine] (e.g. HNSW16, OPQ16,IVF1024,PQ16,Refine)"
        switch (parts.first ?? "", parts.dropFirst().joined(separator: ",")) {
        case ("flat", ""):
            self = .flat
        case let (p, storage) where p.hasPrefix("hnsw") && (storage == "" || storage == "sqfp16"):
            guard let m = Int(p.dropFirst(4)), HNSWConfiguration.mRange.contains(m) else {
                throw IndexError.invalidSpec(text, reason: supported)
            }
            self = .hnsw(m: m, storage: storage == "" ? .float32 : .float16)
        case let (p, rest) where p.hasPrefix("ivf") || p.hasPrefix("opq"):
            // [OPQ<m>,] IVF<nlist>, PQ<m> [, Refine]
            var tail = ([p] + rest.split(separator: ",").map(String.init)).filter { !$0.isEmpty }
            var opqM: Int?
            if let first = tail.first, first.hasPrefix("opq") {
                opqM = Int(first.dropFirst(3))
                tail.removeFirst()
            }
            guard tail.count == 2 || (tail.count == 3 && tail[2] == "refine"),
                  tail[0].hasPrefix("ivf"), let nlist = Int(tail[0].dropFirst(3)), IVFPQConfiguration.nlistRange.contains(nlist),
                  tail[1].hasPrefix("pq"), let m = Int(tail[1].dropFirst(2)), IVFPQConfiguration.mRange.contains(m) else {
                if rest.contains("x4") { throw IndexError.invalidSpec(text, reason: "4-bit fast scan is not in this build yet; \(supported)") }
                throw IndexError.invalidSpec(text, reason: supported)
            }
            if let opqM, opqM != m { throw IndexError.invalidSpec(text, reason: "OPQ\(opqM) must match PQ\(m)") }
            if p.hasPrefix("opq"), opqM == nil { throw IndexError.invalidSpec(text, reason: supported) }
            self = .ivfpq(nlist: nlist, m: m, refine: tail.count == 3, opq: opqM != nil)
        default:
            throw IndexError.invalidSpec(text, reason: supported)
        }
    }

    public var description: String {
        switch self {
        case .flat: return "Flat"
        case let .hnsw(m, storage): return "HNSW\(m)" + (storage == .float16 ? ",SQfp16" : "")
        case let .ivfpq(nlist, m, refine, opq): return (opq ? "OPQ\(m)," : "") + "IVF\(nlist),PQ\(m)" + (refine ? ",Refine" : "")
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
