/// One search result: an internal row or external id, with its internal distance (smaller is closer).
public struct Neighbor: Equatable, Sendable, Comparable, CustomStringConvertible {
    /// The row number inside an index, or the external id once results are mapped.
    public var id: UInt64
    /// The internal distance under the index's metric (smaller is closer).
    public var distance: Float

    @inlinable
    public init(id: UInt64, distance: Float) {
        self.id = id
        self.distance = distance
    }

    /// Orders by distance, then by id, so results are deterministic under ties.
    @inlinable
    public static func < (a: Neighbor, b: Neighbor) -> Bool {
        a.distance < b.distance || (a.distance == b.distance && a.id < b.id)
    }

    public var description: String { "(\(id), \(distance))" }
}
