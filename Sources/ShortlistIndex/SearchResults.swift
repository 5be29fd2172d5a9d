import ShortlistCore

/// Results of a batch search: `queryCount × k` neighbours, row-major, best first in each row.
/// Rows with fewer than `k` results are padded with `SearchResults.noId` and +∞.
public struct SearchResults: Sendable {
    /// The id used for padding.
    public static let noId = UInt64.max

    public let queryCount: Int
    public let k: Int
    /// External ids (`queryCount × k`).
    public var ids: [UInt64]
    /// Internal distances (smaller is closer), `queryCount × k`.
    public var distances: [Float]

    public init(queryCount: Int, k: Int) {
        self.queryCount = queryCount
        self.k = k
        ids = [UInt64](repeating: Self.noId, count: queryCount * k)
        distances = [Float](repeating: .infinity, count: queryCount * k)
    }

    /// The neighbours of query `q`, without padding.
    public subscript(q: Int) -> [Neighbor] {
        var out: [Neighbor] = []
        for j in 0..<k where ids[q * k + j] != Self.noId {
            out.append(Neighbor(id: ids[q * k + j], distance: distances[q * k + j]))
        }
        return out
    }
}
