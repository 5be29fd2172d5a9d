import ShortlistFeatures
import ShortlistIndex

/// One request: what an op asks, with the members that op takes and nothing else
/// (`docs/protocol.md`). `RequestParser` reads it from a line, `RequestEncoder` writes one.
public enum Request: Equatable, Sendable {
    case ping
    case info
    case stats
    /// Authenticates the connection (`token`).
    case auth(token: String)
    /// The k nearest items to `vector`.
    case search(Search)
    /// The k nearest items to each of several vectors.
    case searchBatch(SearchBatch)
    /// The k nearest items to a stored item ("more like this"), the item itself left out.
    case similar(Similar)
    /// The k best items for a user, by id, request-time history, features or context.
    case recommend(Recommend)
    /// Adds or replaces points.
    case upsert(collection: String, points: [Point])
    /// Removes points by id.
    case delete(collection: String, ids: [UInt64])
    /// Stored vectors and payloads by id.
    case get(collection: String, ids: [UInt64])
    /// Snapshots one collection, or every collection when nil.
    case save(collection: String?)
    /// A cluster primary's log records for a replica.
    case replicate(Replicate)
    /// A cluster primary's snapshot for a replica, in parts.
    case install(Install)

    /// `search`: a query vector (`dimension` floats) and the query's options.
    public struct Search: Equatable, Sendable {
        public var collection: String
        public var vector: [Float]
        public var query: QueryOptions

        public init(collection: String, vector: [Float], query: QueryOptions = QueryOptions()) {
            self.collection = collection
            self.vector = vector
            self.query = query
        }
    }

    /// `search_batch`: `count` vectors of equal length, row-major (`count × length`), one k
    /// and set of options for all (no re-ranking stage).
    public struct SearchBatch: Equatable, Sendable {
        public var collection: String
        public var vectors: [Float]
        public var count: Int
        public var query: QueryOptions

        public init(collection: String, vectors: [Float], count: Int, query: QueryOptions = QueryOptions()) {
            self.collection = collection
            self.vectors = vectors
            self.count = count
            self.query = query
        }
    }

    /// `similar`: the stored item whose neighbours are wanted.
    public struct Similar: Equatable, Sendable {
        public var collection: String
        public var itemId: UInt64
        public var query: QueryOptions

        public init(collection: String, itemId: UInt64, query: QueryOptions = QueryOptions()) {
            self.collection = collection
            self.itemId = itemId
            self.query = query
        }
    }

    /// `recommend`: what is known of the user (at least one of the four), and whether to leave
    /// out the items they have seen (`history`, and by `userId` the model's seen sets).
    public struct Recommend: Equatable, Sendable {
        public var collection: String
        public var userId: UInt64?
        /// Item ids the user interacted with, oldest first.
        public var history: [UInt64]
        /// User features by name.
        public var features: [String: FeatureValue]
        /// The request's context (hour, device, …) by name.
        public var context: [String: FeatureValue]
        public var excludeSeen: Bool
        public var query: QueryOptions

        public init(collection: String, userId: UInt64? = nil, history: [UInt64] = [], features: [String: FeatureValue] = [:],
                    context: [String: FeatureValue] = [:], excludeSeen: Bool = false, query: QueryOptions = QueryOptions()) {
            self.collection = collection
            self.userId = userId
            self.history = history
            self.features = features
            self.context = context
            self.excludeSeen = excludeSeen
            self.query = query
        }
    }

    /// One point of an `upsert`: a vector, or features the collection's item tower embeds.
    public struct Point: Equatable, Sendable {
        public var id: UInt64
        /// Empty when the point came with `features` instead (filled in before it is logged).
        public var vector: [Float]
        public var features: [String: FeatureValue]?
        /// The payload's JSON text (one JSON value), or nil when absent.
        public var payload: [UInt8]?

        public init(id: UInt64, vector: [Float], features: [String: FeatureValue]? = nil, payload: [UInt8]? = nil) {
            self.id = id
            self.vector = vector
            self.features = features
            self.payload = payload
        }
    }

    /// The request's op.
    public var op: Op {
        switch self {
        case .ping: return .ping
        case .info: return .info
        case .stats: return .stats
        case .auth: return .auth
        case .search: return .search
        case .searchBatch: return .searchBatch
        case .similar: return .similar
        case .recommend: return .recommend
        case .upsert: return .upsert
        case .delete: return .delete
        case .get: return .get
        case .save: return .save
        case .replicate: return .replicate
        case .install: return .install
        }
    }

    /// The collection it names (nil for the server-wide ops and a `save` of everything).
    public var collection: String? {
        switch self {
        case .ping, .info, .stats, .auth: return nil
        case let .search(r): return r.collection
        case let .searchBatch(r): return r.collection
        case let .similar(r): return r.collection
        case let .recommend(r): return r.collection
        case let .upsert(c, _), let .delete(c, _), let .get(c, _): return c
        case let .save(c): return c
        case let .replicate(r): return r.collection
        case let .install(r): return r.collection
        }
    }
}

/// A request as it travels on one line: the client's `id` (raw JSON text, echoed verbatim in
/// the reply; nil when absent, and the reply has `"id":null`) and the request.
public struct RequestLine: Equatable, Sendable {
    public var id: [UInt8]?
    public var request: Request

    public init(id: [UInt8]? = nil, _ request: Request) {
        self.id = id
        self.request = request
    }
}
