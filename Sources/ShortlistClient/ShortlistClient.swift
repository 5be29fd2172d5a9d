import Foundation
import ShortlistCore
import ShortlistProtocol

/// A blocking client for a Shortlist server: every op with typed results, pipelining, base64
/// vectors, and one connection reused across calls (reopened, and re-authenticated, when the
/// server closed it while idle). Safe to share between threads: calls take turns on the
/// connection. `AsyncShortlistClient` offers the same from async code.
///
///     let client = try ShortlistClient(host: "127.0.0.1", port: 7700)
///     let hits = try client.search(collection: "items", vector: v, options: QueryOptions(k: 20)).hits
public final class ShortlistClient: @unchecked Sendable {
    public let host: String
    public let port: Int
    /// Seconds a call waits for its reply (default 30).
    public let timeout: Double
    private let token: String?
    private let encoder: RequestEncoder
    private let lock = NSLock()
    private var connection: LineClient?
    private var nextId: UInt64 = 1

    /// Connects to `host:port` (and authenticates with `token` when given). Vectors go as
    /// base64 float32 unless `vectorEncoding` says otherwise.
    public init(host: String = "127.0.0.1", port: Int, token: String? = nil, timeout: Double = 30,
                vectorEncoding: RequestEncoder.VectorEncoding = .base64) throws {
        self.host = host
        self.port = port
        self.token = token
        self.timeout = timeout
        encoder = RequestEncoder(vectorEncoding: vectorEncoding)
        lock.lock()
        defer { lock.unlock() }
        _ = try openConnection()
    }

    /// Closes the connection (the next call opens a new one).
    public func close() {
        lock.lock()
        connection = nil
        lock.unlock()
    }

    // MARK: Calls

    /// Sends `request` and returns its result's JSON text; the server's error is thrown as a
    /// `ProtocolError`, a broken connection as a `ClientError`.
    public func call(_ request: Request) throws -> [UInt8] {
        try pipeline([request])[0].get()
    }

    /// Sends every request in one write and waits for all their replies (matched by id, which
    /// the client assigns): one round trip for many requests. Results are in request order;
    /// each is the result's JSON text or the server's error for that request.
    public func pipeline(_ requests: [Request]) throws -> [Result<[UInt8], ProtocolError>] {
        guard !requests.isEmpty else { return [] }
        lock.lock()
        defer { lock.unlock() }
        return try receiveLocked(try sendLocked(requests), timeout: nil)
    }

    /// Requests written by `send`, whose replies `receive` collects.
    public struct Sent: Sendable {
        fileprivate let slots: [UInt64: Int]
        fileprivate let count: Int
    }

    /// `pipeline` in two halves, for a caller that talks to several servers at once (write to
    /// each, then read each): writes the requests and returns at once. Until `receive` has
    /// returned, nothing else may use this client (the caller holds it alone, as `ClusterClient`
    /// does with its pooled connections).
    public func send(_ requests: [Request]) throws -> Sent {
        lock.lock()
        defer { lock.unlock() }
        return try sendLocked(requests)
    }

    /// The replies to `sent`, in request order, waiting at most `timeout` seconds (nil: the
    /// client's timeout). On a timeout the connection is closed (its replies would come late).
    public func receive(_ sent: Sent, timeout: Double?) throws -> [Result<[UInt8], ProtocolError>] {
        lock.lock()
        defer { lock.unlock() }
        return try receiveLocked(sent, timeout: timeout)
    }

    private func sendLocked(_ requests: [Request]) throws -> Sent {
        let c = try usableConnection()
        var bytes: [UInt8] = []
        var slots: [UInt64: Int] = [:]
        for (i, r) in requests.enumerated() {
            let id = nextId
            nextId &+= 1
            slots[id] = i
            bytes += encoder.encode(RequestLine(id: Array(String(id).utf8), r))
        }
        do {
            try c.send(bytes)
        } catch {
            connection = nil
            throw ClientError.connectionLost("\(error)")
        }
        return Sent(slots: slots, count: requests.count)
    }

    private func receiveLocked(_ sent: Sent, timeout: Double?) throws -> [Result<[UInt8], ProtocolError>] {
        guard let c = connection else { throw ClientError.connectionLost("the connection closed before the replies came") }
        var slots = sent.slots
        var results = [Result<[UInt8], ProtocolError>?](repeating: nil, count: sent.count)
        do {
            if let timeout { c.setReceiveTimeout(timeout) }
            defer { if timeout != nil { c.setReceiveTimeout(self.timeout) } }
            var remaining = sent.count
            while remaining > 0 {
                guard let line = try c.readLine() else { throw ClientError.closed }
                let reply = try line.withUnsafeBufferPointer { try Reply(line: $0) }
                guard let raw = reply.id, let id = UInt64(String(decoding: raw, as: UTF8.self)), let i = slots.removeValue(forKey: id) else {
                    // A reply to no request of ours: the server is closing the connection.
                    if case let .failure(e) = reply.outcome { throw e }
                    throw ProtocolError(.parseError, "a reply with an unknown id")
                }
                results[i] = reply.outcome
                remaining -= 1
            }
        } catch let e as ClientError {
            connection = nil
            throw e == .timeout ? e : ClientError.connectionLost("\(e)")
        } catch {
            connection = nil
            throw error
        }
        return results.map { $0! }
    }

    // MARK: Ops

    public func ping() throws { _ = try call(.ping) }

    /// `info`: the server's version, collections and limits, as JSON text.
    public func info() throws -> [UInt8] { try call(.info) }

    /// `stats`: counters and latencies, as JSON text.
    public func stats() throws -> [UInt8] { try call(.stats) }

    /// The `options.k` nearest items to `vector` (`dimension` floats).
    public func search(collection: String, vector: [Float], options: QueryOptions = QueryOptions()) throws -> SearchResult {
        try ResultDecoder.search(call(.search(.init(collection: collection, vector: vector, query: options))))
    }

    /// The nearest items to each of `vectors` (all of one length); no re-ranking stage.
    public func searchBatch(collection: String, vectors: [[Float]], options: QueryOptions = QueryOptions()) throws -> BatchResult {
        try ResultDecoder.batch(call(.searchBatch(.init(collection: collection, vectors: vectors.flatMap { $0 }, count: vectors.count, query: options))))
    }

    /// Items like the stored item `itemId` (itself left out).
    public func similar(collection: String, itemId: UInt64, options: QueryOptions = QueryOptions()) throws -> SearchResult {
        try ResultDecoder.search(call(.similar(.init(collection: collection, itemId: itemId, query: options))))
    }

    /// The best items for a user described by `request` (id, history, features, context).
    public func recommend(_ request: Request.Recommend) throws -> SearchResult {
        try ResultDecoder.search(call(.recommend(request)))
    }

    /// Adds or replaces `points`; returns how many and the collection's count afterwards.
    @discardableResult
    public func upsert(collection: String, points: [Request.Point]) throws -> WriteResult {
        try ResultDecoder.write(call(.upsert(collection: collection, points: points)))
    }

    /// Removes `ids`; returns how many were there, which were not, and the count afterwards.
    @discardableResult
    public func delete(collection: String, ids: [UInt64]) throws -> WriteResult {
        try ResultDecoder.write(call(.delete(collection: collection, ids: ids)))
    }

    /// Stored vectors and payloads of `ids`, and the ids not found.
    public func get(collection: String, ids: [UInt64]) throws -> (points: [StoredPoint], notFound: [UInt64]) {
        try ResultDecoder.points(call(.get(collection: collection, ids: ids)))
    }

    /// Snapshots `collection`, or every collection.
    public func save(collection: String? = nil) throws { _ = try call(.save(collection: collection)) }

    // MARK: Connection

    /// The open connection, or a new one when there is none or the server closed it while idle.
    private func usableConnection() throws -> LineClient {
        if let c = connection, !c.hasInputWaiting { return c }
        return try openConnection()
    }

    private func openConnection() throws -> LineClient {
        connection = nil
        let c = try LineClient(host: host, port: port, timeout: timeout)
        if let token {
            try c.send(encoder.encode(RequestLine(.auth(token: token))))
            guard let line = try c.readLine() else { throw ClientError.closed }
            _ = try line.withUnsafeBufferPointer { try Reply(line: $0) }.result()
        }
        connection = c
        return c
    }
}
