import CShortlistKernels
import Foundation
import ShortlistCore

/// Build settings of an IVF-PQ index.
public struct IVFPQConfiguration: Sendable, Equatable {
    /// Inverted lists (coarse centroids; FAISS's `nlist`). More lists: each is shorter, so a probe
    /// scans less, but more probes are needed for the same recall. Typical: 4·√count.
    public var nlist: Int
    /// Sub-quantizers per code; must divide the dimension. More: more accurate, larger and slower.
    public var m: Int
    /// Bits per sub-quantizer: 8 (256 centroids, codes of m bytes, scanned through float
    /// tables) or 4 (16 centroids, codes of m/2 bytes in the fast-scan layout, scanned with
    /// `pshufb` over byte tables: several times faster per code, less accurate; pair it with
    /// `Refine`). 4 bits allows m ≤ 256.
    public var bits: Int
    /// Keep the full vectors and re-rank the best `k × rerank` candidates exactly (`Refine`).
    public var refine: Bool
    /// Learn an OPQ rotation first, so product quantization loses less on correlated data.
    public var opq: Bool
    /// M of an HNSW graph over the coarse centroids (`IVF<nlist>_HNSW<M>`): a query finds its
    /// `nprobe` lists by graph search (candidate list `ef`, default max(2 · nprobe, 32)) instead of
    /// comparing itself with all `nlist` centroids. Pays off when nlist × dimension is large
    /// (thousands of lists); the lists found may rarely differ from the exact nearest. 0 (default): exact.
    public var coarseHNSW: Int
    /// Training sample size; nil: min(count, max(64 · nlist, 65,536)).
    public var trainSize: Int?
    /// k-means iterations for each sub-quantizer (default 25, as FAISS).
    public var iterations: Int
    /// k-means iterations for the coarse quantizer (default 10, as FAISS: its objective barely
    /// moves after that, and each iteration is an nlist-wide sgemm over the sample).
    public var coarseIterations: Int
    public var seed: UInt64

    public init(nlist: Int, m: Int, bits: Int = 8, refine: Bool = false, opq: Bool = false, coarseHNSW: Int = 0, trainSize: Int? = nil,
                iterations: Int = 25, coarseIterations: Int = 10, seed: UInt64 = SeededGenerator.defaultSeed) {
        self.coarseIterations = coarseIterations
        self.coarseHNSW = coarseHNSW
        self.nlist = nlist
        self.m = m
        self.bits = bits
        self.refine = refine
        self.opq = opq
        self.trainSize = trainSize
        self.iterations = iterations
        self.seed = seed
    }

    public static let nlistRange = 1...65_536
    public static let mRange = 1...1_024
}
