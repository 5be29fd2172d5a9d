import ShortlistCore

/// What every index offers: exact or approximate k-nearest-neighbour search over vectors with
/// external 64-bit ids. After it is built, an index is safe for concurrent readers.
public protocol VectorIndex: AnyObject, Sendable {
    /// The comparison used (distances are "smaller is closer" inside the library).
    var metric: Metric { get }
    /// Components per vector.
    var dimension: Int { get }
    /// Number of vectors searchable.
    var count: Int { get }
    /// The spec that describes this index.
    var spec: IndexSpec { get }

    /// The `k` nearest vectors to `query` (`dimension` floats), best first, with external ids.
    func search(_ query: [Float], k: Int, parameters: SearchParameters) throws -> [Neighbor]

    /// The `k` nearest vectors for each row of `queries` (`count × dimension`), using up to `threads` threads.
    func search(_ queries: VectorMatrix, k: Int, parameters: SearchParameters, threads: Int) throws -> SearchResults

    /// The index as a v1 index file, followed by `extraSections` (optional sections the index
    /// does not read, such as a tuning table). Sections may reference the index's own buffers:
    /// write it (or take its `image()`) before the index changes again.
    func fileDocument(extraSections: [IndexFile.Section]) -> IndexFile.Document

    /// Bytes of memory the index holds (vectors, graph, ids), for reports.
    var memoryBytes: Int { get }
}

/// Per-query search knobs. They travel with each call and are never stored on a shared index,
/// so queries with different settings can run concurrently. Knobs an index does not use are ignored.
public struct SearchParameters: Sendable, Equatable {
    /// HNSW: the size of the dynamic candidate list at layer 0. Larger is slower and more
    /// accurate; it is raised to at least `k`. Default (nil): `HNSWIndex.defaultEf` (64).
    /// IVF with a coarse graph (`IVF<nlist>_HNSW<M>`): the graph's candidate list when finding
    /// the `nprobe` lists. Default (nil): max(2 · nprobe, 32).
    public var ef: Int?
    /// IVF: how many inverted lists (nearest coarse centroids) to scan. Larger is slower and more
    /// accurate. Default (nil): `IVFPQIndex.defaultNprobe` (8), at most the number of lists.
    public var nprobe: Int?
    /// IVF with `Refine`: the best `k × rerank` candidates by approximate distance are re-ranked
    /// by exact distance. Larger is slower and more accurate. Default (nil): 4 with `Refine`, 1 without.
    public var rerank: Int?

    public init(ef: Int? = nil, nprobe: Int? = nil, rerank: Int? = nil) {
        self.ef = ef
        self.nprobe = nprobe
        self.rerank = rerank
    }

    /// The defaults.
    public static let `default` = SearchParameters()

    /// Throws `IndexError.invalidParameter` for a knob outside its allowed range.
    public func validate() throws {
        if let ef, !(1...SearchLimits.maximumEf).contains(ef) {
            throw IndexError.invalidParameter(name: "ef", value: ef, allowed: 1...SearchLimits.maximumEf)
        }
        if let nprobe, !(1...SearchLimits.maximumNprobe).contains(nprobe) {
            throw IndexError.invalidParameter(name: "nprobe", value: nprobe, allowed: 1...SearchLimits.maximumNprobe)
        }
        if let rerank, !(1...SearchLimits.maximumRerank).contains(rerank) {
            throw IndexError.invalidParameter(name: "rerank", value: rerank, allowed: 1...SearchLimits.maximumRerank)
        }
    }
}

/// Limits applied to every search request.
public enum SearchLimits {
    /// The largest `k` a search accepts.
    public static let maximumK = 100_000
    /// The largest `ef` a search accepts.
    public static let maximumEf = 100_000
    /// The largest `nprobe` a search accepts.
    public static let maximumNprobe = 65_536
    /// The largest `rerank` a search accepts.
    public static let maximumRerank = 1_000
}

extension VectorIndex {
    /// Writes the index to `path` atomically in the v1 index file format, followed by
    /// `extraSections` (see `fileDocument`).
    public func save(to path: String, extraSections: [IndexFile.Section] = []) throws {
        let d = fileDocument(extraSections: extraSections)
        try IndexFile.write(path: path, header: d.header, sections: d.sections)
    }
}
