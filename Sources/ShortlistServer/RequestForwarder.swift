import ShortlistProtocol

/// Answers requests somewhere else: set on a `RequestProcessor` (a cluster router), it gets every
/// op but the ones the event loop answers (ping, info, stats, auth), on a worker thread.
public protocol RequestForwarder: Sendable {
    /// The result of `request` as JSON text (the reply's `result`); a `ProtocolError` becomes the
    /// error reply.
    func forward(_ request: Request) throws -> [UInt8]
}
