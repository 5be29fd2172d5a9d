import ShortlistCore
import ShortlistIndex

/// An error reply: a stable snake_case `code` for programs and a `message` for people
/// (docs/protocol.md lists every code). The connection stays usable after every error except
/// `too_many_connections` and `idle_timeout`, which are sent just before the server closes it.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, CaseIterable, Sendable {
        /// The line is not a JSON object.
        case parseError = "parse_error"
        /// A required field is missing, has the wrong type, or a value is invalid.
        case invalidRequest = "invalid_request"
        case unknownOp = "unknown_op"
        case unknownField = "unknown_field"
        case unknownCollection = "unknown_collection"
        /// A vector's length differs from the collection's dimension.
        case dimensionMismatch = "dimension_mismatch"
        /// A vector holds a value that is not a finite Float32, or is all zeros under cosine.
        case invalidVector = "invalid_vector"
        /// `k`, `ef`, `nprobe` or `rerank` outside its allowed range.
        case invalidParameter = "invalid_parameter"
        /// More vectors, points or ids in one request than the server allows.
        case tooLarge = "too_large"
        /// The reply would pass a bound: `k` × vectors, or its bytes (large payloads).
        case limitExceeded = "limit_exceeded"
        /// The line is longer than the server's maximum; the rest of it was discarded.
        case lineTooLong = "line_too_long"
        /// A stored item or user id that does not exist.
        case notFound = "not_found"
        /// The op needs something this collection lacks (e.g. `recommend` without a model).
        case unsupported = "unsupported"
        /// Auth is on and this connection has not authenticated (or gave a wrong token).
        case unauthorized = "unauthorized"
        /// Too much work is queued; retry later.
        case overloaded = "overloaded"
        case tooManyConnections = "too_many_connections"
        case idleTimeout = "idle_timeout"
        /// The server is shutting down and takes no new requests.
        case shuttingDown = "shutting_down"
        /// A write reached a server that is not its shard's primary in a cluster; the message
        /// names the primary (clients that route by etcd retry there).
        case notPrimary = "not_primary"
        /// `replicate` or `install` from a primary whose term is older than one this server has
        /// seen, or sent to a server that is itself primary: the sender is no longer primary.
        case staleTerm = "stale_term"
        /// The write is applied and logged on the primary, but fewer replicas than
        /// `--ack-replicas` confirmed it within `--ack-timeout`: it may not survive a failover.
        case notReplicated = "not_replicated"
        /// Writing files failed (e.g. `save` on a full disk); nothing in memory changed.
        case ioError = "io_error"
        case internalError = "internal"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Maps errors thrown by the library to wire errors.
    package static func from(_ error: Error) -> ProtocolError {
        switch error {
        case let e as ProtocolError: return e
        case let e as VectorError:
            switch e {
            case let .dimensionMismatch(expected, actual):
                return ProtocolError(.dimensionMismatch, "the collection holds \(expected)-dimensional vectors; this one has \(actual)")
            case .nonFinite, .zeroNorm: return ProtocolError(.invalidVector, e.description)
            case .invalidK: return ProtocolError(.invalidParameter, e.description)
            case .invalidDimension: return ProtocolError(.invalidRequest, e.description)
            }
        case let e as IndexError:
            switch e {
            case .invalidParameter: return ProtocolError(.invalidParameter, e.description)
            case .unknownId: return ProtocolError(.notFound, e.description)
            case .duplicateId, .idCountMismatch, .invalidSpec: return ProtocolError(.invalidRequest, e.description)
            case .empty, .tooManyRows: return ProtocolError(.tooLarge, e.description)
            }
        case let e as JSONError: return ProtocolError(.parseError, e.description)
        default: return ProtocolError(.internalError, "\(error)")
        }
    }
}
