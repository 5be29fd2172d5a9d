/// A parsed index description string, FAISS-style: comma-separated components, e.g. `"Flat"`.
///
/// Parsing lives only here; `description` gives back the canonical string, so
/// `IndexSpec(parsing: s).description` round-trips.
public enum IndexSpec: Equatable, Sendable, CustomStringConvertible {
    /// Exact search: every query is compared with every vector (SIMD scan; BLAS for batches).
    case flat
    /// A hierarchical navigable small-world graph with `m` links per node (2m on layer 0):
    /// `HNSW16`; `HNSW16,SQfp16` to hold vectors in half precision; `HNSW16,SQ8` to walk the
    /// graph on 8-bit codes and re-rank on half-precision rows.
    case hnsw(m: Int, storage: VectorStorage)
    /// Inverted lists over `nlist` coarse centroids, residuals product-quantized by `m`
    /// sub-quantizers of `bits` (8, or 4 in the fast-scan layout: `PQ<m>x4fs`), optionally after a
    /// learned rotation (`OPQ<m>,` first) and re-ranked exactly (`,Refine`):
    /// `IVF1024,PQ16`, `OPQ16,IVF1024,PQ16,Refine`, `IVF1024,PQ32x4fs,Refine`. With
    /// `IVF<nlist>_HNSW<M>`, the probed lists are found through an HNSW graph of M links over the
    /// coarse centroids (`coarseHNSW` = M; 0 compares the query with every centroid).
    case ivfpq(nlist: Int, m: Int, refine: Bool, opq: Bool = false, bits: Int = 8, coarseHNSW: Int = 0)

    /// Parses a spec string (case-insensitive, spaces ignored).
    public init(parsing text: String) throws {
        let cleaned = text.filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard !cleaned.isEmpty else { throw IndexError.invalidSpec(text, reason: "the spec is empty") }
        let supported = "this build supports Flat, HNSW<m>, HNSW<m>,SQfp16, HNSW<m>,SQ8, and [OPQ<m>,]IVF<nlist>[_HNSW<M>],PQ<m>[x4fs][,Refine] (e.g. HNSW16, OPQ16,IVF1024,PQ16,Refine, IVF1024,PQ32x4fs,Refine, IVF16384_HNSW32,PQ16)"
        switch (parts.first ?? "", parts.dropFirst().joined(separator: ",")) {
        case ("flat", ""):
            self = .flat
        case let (p, storage) where p.hasPrefix("hnsw") && ["", "sqfp16", "sq8"].contains(storage):
            guard let m = Int(p.dropFirst(4)), HNSWConfiguration.mRange.contains(m) else {
                throw IndexError.invalidSpec(text, reason: supported)
            }
            self = .hnsw(m: m, storage: storage == "" ? .float32 : storage == "sq8" ? .sq8 : .float16)
        case let (p, rest) where p.hasPrefix("ivf") || p.hasPrefix("opq"):
            // [OPQ<m>,] IVF<nlist>, PQ<m> [, Refine]
            var tail = ([p] + rest.split(separator: ",").map(String.init)).filter { !$0.isEmpty }
            var opqM: Int?
            if let first = tail.first, first.hasPrefix("opq") {
                opqM = Int(first.dropFirst(3))
                tail.removeFirst()
            }
            // PQ<m>, PQ<m>x8, or PQ<m>x4fs (4 bits exist only in the fast-scan layout).
            var bits = 8
            if tail.count >= 2 {
                if tail[1].hasSuffix("x4fs") {
                    bits = 4
                    tail[1].removeLast(4)
                } else if tail[1].hasSuffix("x8") {
                    tail[1].removeLast(2)
                }
            }
            // IVF<nlist>_HNSW<M>: a graph over the centroids.
            var coarseHNSW = 0
            if let first = tail.first, let underscore = first.firstIndex(of: "_") {
                let graph = first[first.index(after: underscore)...]
                guard graph.hasPrefix("hnsw"), let graphM = Int(graph.dropFirst(4)), HNSWConfiguration.mRange.contains(graphM) else {
                    throw IndexError.invalidSpec(text, reason: "the coarse quantizer is IVF<nlist> or IVF<nlist>_HNSW<M> with M in \(HNSWConfiguration.mRange)")
                }
                coarseHNSW = graphM
                tail[0] = String(first[..<underscore])
            }
            guard tail.count == 2 || (tail.count == 3 && tail[2] == "refine"),
                  tail[0].hasPrefix("ivf"), let nlist = Int(tail[0].dropFirst(3)), IVFPQConfiguration.nlistRange.contains(nlist),
                  tail[1].hasPrefix("pq"), let m = Int(tail[1].dropFirst(2)), IVFPQConfiguration.mRange.contains(m) else {
                throw IndexError.invalidSpec(text, reason: supported)
            }
            if bits == 4 && m > FastScanLayout.maxM {
                throw IndexError.invalidSpec(text, reason: "4-bit fast scan allows at most \(FastScanLayout.maxM) sub-quantizers")
            }
            if let opqM, opqM != m { throw IndexError.invalidSpec(text, reason: "OPQ\(opqM) must match PQ\(m)") }
            if p.hasPrefix("opq"), opqM == nil { throw IndexError.invalidSpec(text, reason: supported) }
            self = .ivfpq(nlist: nlist, m: m, refine: tail.count == 3, opq: opqM != nil, bits: bits, coarseHNSW: coarseHNSW)
        default:
            throw IndexError.invalidSpec(text, reason: supported)
        }
    }

    public var description: String {
        switch self {
        case .flat: return "Flat"
        case let .hnsw(m, storage): return "HNSW\(m)" + [.float32: "", .float16: ",SQfp16", .sq8: ",SQ8"][storage]!
        case let .ivfpq(nlist, m, refine, opq, bits, coarseHNSW):
            return (opq ? "OPQ\(m)," : "") + "IVF\(nlist)" + (coarseHNSW > 0 ? "_HNSW\(coarseHNSW)" : "") + ",PQ\(m)"
                + (bits == 4 ? "x4fs" : "") + (refine ? ",Refine" : "")
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
