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
    /// A filter: only these rows may be returned (nil: any live row). Make it with the index's
    /// `rowBitmap(of:)` (or combine such bitmaps); rows past its capacity are not allowed, deleted
    /// rows are never returned. Every index plans the filtered search so that it keeps its recall,
    /// and returns k hits whenever k allowed rows are live:
    /// - flat: scores exactly the allowed rows;
    /// - HNSW: scores them all when that touches fewer rows than the walk would (allowed ≤
    ///   m · ef ÷ share allowed), else walks the graph through the others to reach them
    ///   (filter-aware traversal);
    /// - IVF: tests the filter while scanning lists and probes nprobe ÷ (share allowed) lists, so
    ///   about as many allowed codes are scanned as without a filter, then more until k pass; with
    ///   `Refine`, scores the allowed rows exactly when that costs less (see `IVFPQIndex`).
    public var allowedRows: RowBitmap?
    /// How a filtered search reaches the allowed rows; nil (default): each index chooses as
    /// described under `allowedRows`.
    public var filterStrategy: FilterStrategy?

    /// How a filtered search reaches the allowed rows.
    public enum FilterStrategy: String, Sendable, Equatable, CaseIterable {
        /// Score every allowed row: exact for flat, HNSW and IVF with `Refine`; IVF without
        /// `Refine` scans every list with the filter.
        case scan
        /// Use the index's structure: HNSW's filter-aware walk, IVF's widened probing.
        case index
    }

    public init(ef: Int? = nil, nprobe: Int? = nil, rerank: Int? = nil, allowedRows: RowBitmap? = nil, filterStrategy: FilterStrategy? = nil) {
        self.ef = ef
        self.nprobe = nprobe
        self.rerank = rerank
        self.allowedRows = allowedRows
        self.filterStrategy = filterStrategy
    }

    /// The defaults.
    public static let `default` = SearchParameters()

    /// The knobs without the filter.
    public var knobs: SearchParameters { SearchParameters(ef: ef, nprobe: nprobe, rerank: rerank) }

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
