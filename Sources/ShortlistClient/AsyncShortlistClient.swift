import Dispatch
import ShortlistProtocol

/// `ShortlistClient` for async code: each call runs on the client's own serial queue, so no
/// thread of the cooperative pool blocks on the network. Calls are answered in order.
public final class AsyncShortlistClient: Sendable {
    public let client: ShortlistClient
    private let queue: DispatchQueue

    public init(host: String = "127.0.0.1", port: Int, token: String? = nil, timeout: Double = 30,
                vectorEncoding: RequestEncoder.VectorEncoding = .base64) throws {
        client = try ShortlistClient(host: host, port: port, token: token, timeout: timeout, vectorEncoding: vectorEncoding)
        queue = DispatchQueue(label: "shortlist.client.\(host):\(port)")
    }

    /// Runs `body` with the blocking client on the client's queue.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (ShortlistClient) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [client] in continuation.resume(with: Result { try body(client) }) }
        }
    }

    public func call(_ request: Request) async throws -> [UInt8] { try await perform { try $0.call(request) } }

    public func pipeline(_ requests: [Request]) async throws -> [Result<[UInt8], ProtocolError>] {
        try await perform { try $0.pipeline(requests) }
    }

    public func search(collection: String, vector: [Float], options: QueryOptions = QueryOptions()) async throws -> SearchResult {
        try await perform { try $0.search(collection: collection, vector: vector, options: options) }
    }

    public func searchBatch(collection: String, vectors: [[Float]], options: QueryOptions = QueryOptions()) async throws -> BatchResult {
        try await perform { try $0.searchBatch(collection: collection, vectors: vectors, options: options) }
    }

    public func similar(collection: String, itemId: UInt64, options: QueryOptions = QueryOptions()) async throws -> SearchResult {
        try await perform { try $0.similar(collection: collection, itemId: itemId, options: options) }
    }

    public func recommend(_ request: Request.Recommend) async throws -> SearchResult {
        try await perform { try $0.recommend(request) }
    }

    @discardableResult
    public func upsert(collection: String, points: [Request.Point]) async throws -> WriteResult {
        try await perform { try $0.upsert(collection: collection, points: points) }
    }

    @discardableResult
    public func delete(collection: String, ids: [UInt64]) async throws -> WriteResult {
        try await perform { try $0.delete(collection: collection, ids: ids) }
    }
}
