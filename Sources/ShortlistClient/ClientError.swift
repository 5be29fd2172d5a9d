/// Why a client call failed other than by the server's answer (those are `ProtocolError`s).
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No connection could be opened.
    case connectFailed(String)
    /// A send or receive failed.
    case io(String)
    /// No reply within the read timeout.
    case timeout
    /// The server closed the connection.
    case closed
    /// The connection broke after the request was sent: it may or may not have run (a write is
    /// never retried, since it may have been applied).
    case connectionLost(String)

    public var description: String {
        switch self {
        case let .connectFailed(s): return "cannot connect to \(s)"
        case let .io(s): return s
        case .timeout: return "no reply in time"
        case .closed: return "the server closed the connection"
        case let .connectionLost(s): return "the connection broke during the request (it may have run): \(s)"
        }
    }
}
