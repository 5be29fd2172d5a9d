/// Where a collection's write-ahead log stands: the `lsn` (log sequence number: 1 for the first
/// record a collection ever logged, one more for each record after) of its last record, and the
/// `term` that record was written in (a cluster primary's tenure; 0 outside a cluster). Two logs
/// that hold the same record at the same lsn with the same term hold the same records up to it.
///
/// Ordered as elections compare logs: a later term is newer, and within a term the longer log.
public struct LogPosition: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var term: UInt64
    public var lsn: UInt64

    public init(term: UInt64, lsn: UInt64) {
        self.term = term
        self.lsn = lsn
    }

    /// The position of an empty log.
    public static let zero = LogPosition(term: 0, lsn: 0)

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        a.term != b.term ? a.term < b.term : a.lsn < b.lsn
    }

    /// `term:lsn`, as kept in etcd.
    public var description: String { "\(term):\(lsn)" }

    /// Parses `term:lsn`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let t = UInt64(parts[0]), let l = UInt64(parts[1]) else { return nil }
        self.init(term: t, lsn: l)
    }
}
