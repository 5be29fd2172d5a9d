import ShortlistIndex

/// The bounds a server enforces; each violation gets its own error code and leaves the
/// connection usable. Defaults suit a server on a small machine; all are settable from
/// `shortlist serve`.
public struct ServerLimits: Sendable, Equatable {
    /// Longest request line in bytes (default 4 MiB). Longer lines are discarded up to their
    /// newline and answered with `line_too_long`.
    public var maximumLineBytes = 4 << 20
    /// Largest `k` (default 10,000).
    public var maximumK = 10_000
    /// Largest `ef` (default 10,000).
    public var maximumEf = 10_000
    /// Largest `nprobe` (default 65,536).
    public var maximumNprobe = SearchLimits.maximumNprobe
    /// Most vectors in one `search_batch` (default 1,024).
    public var maximumBatch = 1_024
    /// Most points in one `upsert`, and most ids in one `delete`, `get` or filter (default 10,000).
    public var maximumItems = 10_000
    /// Longest vector accepted while parsing, before the collection's own dimension is checked.
    public var maximumDimension = 65_536
    /// Open connections at most (default 1,024); the next one gets `too_many_connections` and is closed.
    public var maximumConnections = 1_024
    /// Seconds a connection may stay silent with nothing in flight before it is closed (default 300; 0 = never).
    public var idleTimeoutSeconds = 300
    /// Requests waiting for a worker at most (default 4,096); beyond it new work gets `overloaded`.
    public var maximumQueuedRequests = 4_096
    /// Requests in flight on one connection at most (default 1,024); beyond it `overloaded`.
    public var maximumInFlightPerConnection = 1_024
    /// Hits one request may ask for at most: `k` × the vectors of a `search_batch` (default
    /// 100,000); beyond it `limit_exceeded`, before any search runs.
    public var maximumResultsPerRequest = 100_000
    /// Longest reply in bytes (default 32 MiB): a reply that would be longer (large payloads)
    /// is replaced by `limit_exceeded`.
    public var maximumReplyBytes = 32 << 20
    /// Unsent reply bytes of one connection past which the server stops reading its requests
    /// until the client reads (default 1 MiB): a client that never reads stops itself.
    public var outputPauseBytes = 1 << 20
    /// Unsent reply bytes of one connection past which it is closed (default 64 MiB).
    public var maximumOutputBytes = 64 << 20
    /// Bytes of long request lines one connection may have waiting for workers (default 16 MiB):
    /// past it, its further lines wait in the socket until those have run.
    public var maximumPendingRequestBytes = 16 << 20
    /// Seconds a connection has to authenticate when auth is on (default 10; 0 = no deadline).
    public var authTimeoutSeconds = 10
    /// Seconds a request line may take to arrive once its first byte has (default 30; 0 = no
    /// deadline): a trickle of bytes cannot hold a connection open forever.
    public var lineTimeoutSeconds = 30
    /// Connections that have not yet authenticated, at most, when auth is on (default 64):
    /// unauthenticated sockets cannot take the slots of clients that have the token.
    public var maximumUnauthenticatedConnections = 64

    public init() {}
}
