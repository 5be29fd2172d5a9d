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

    /// Writes the index to `path` atomically in the v1 index file format.
    func save(to path: String) throws
}

/// Per-query search knobs. They travel with each call and are never stored on a shared index,
/// so queries with different settings can run concurrently. Knobs an index does not use are ignored.
public struct SearchParameters: Sendable, Equatable {
    public init() {}

    /// The defaults.
    public static let `default` = SearchParameters()
}

/// Limits applied to every search request.
public enum SearchLimits {
    /// The largest `k` a search accepts.
    public static let maximumK = 100_000
}
