import ShortlistFeatures
import ShortlistIndex

/// One parsed request line. Fields an op does not use are rejected by the parser (`unknown_field`),
/// so a typo never silently changes a query.
struct Request {
    enum Op: String, CaseIterable {
        case ping, info, stats, auth, search, searchBatch = "search_batch", similar, recommend
        case upsert, delete, get, save

        /// The members this op accepts besides `id` and `op`.
        var fields: Set<String> {
            switch self {
            case .ping, .info, .stats: return []
            case .auth: return ["token"]
            case .search: return ["collection", "vector", "k", "params", "filter", "with_payload", "diversity", "group_by", "max_per_group", "boost"]
            case .searchBatch: return ["collection", "vectors", "k", "params", "filter", "with_payload"]
            case .similar: return ["collection", "item_id", "k", "params", "filter", "with_payload", "diversity", "group_by", "max_per_group", "boost"]
            case .recommend: return ["collection", "user_id", "history", "features", "context", "k", "params", "filter", "exclude_seen", "with_payload",
                                     "diversity", "group_by", "max_per_group", "boost"]
            case .upsert: return ["collection", "points"]
            case .delete: return ["collection", "ids"]
            case .get: return ["collection", "ids"]
            case .save: return ["collection"]
            }
        }

        /// The members this op cannot do without.
        var required: [String] {
            switch self {
            case .ping, .info, .stats, .save: return []
            case .auth: return ["token"]
            case .search: return ["collection", "vector"]
            case .searchBatch: return ["collection", "vectors"]
            case .similar: return ["collection", "item_id"]
            case .recommend: return ["collection"]
            case .upsert: return ["collection", "points"]
            case .delete, .get: return ["collection", "ids"]
            }
        }

        /// Ops answered on the event loop: constant work, no index access.
        var isInline: Bool { self == .ping || self == .info || self == .stats || self == .auth }
        /// Ops that change a collection.
        var isWrite: Bool { self == .upsert || self == .delete }
    }

    /// The re-ranking stage of `search`, `similar` and `recommend` (`Reranker`).
    struct Rerank: Equatable {
        /// `diversity.lambda`: the MMR trade-off, or nil for none.
        var lambda: Float?
        /// `diversity.candidates`: how many hits to re-rank (at least k).
        var candidates: Int?
        /// `group_by` / `max_per_group`: a payload field and the limit per value.
        var groupBy: String?
        var maxPerGroup: Int?
        /// `boost`: payload field → value → added to the score.
        var boosts: [String: [String: Float]] = [:]

        var isEmpty: Bool { lambda == nil && groupBy == nil && boosts.isEmpty }
    }

    /// One point of an `upsert`: a vector, or features the collection's item tower embeds.
    struct Point {
        var id: UInt64
        /// Empty when the point came with `features` instead (filled in before it is logged).
        var vector: [Float]
        var features: [String: FeatureValue]? = nil
        /// The payload's JSON text as sent (validated), or nil when absent.
        var payload: [UInt8]?
    }

    /// The client's `id` as raw JSON text, echoed verbatim (nil when absent: the reply has `"id":null`).
    var id: [UInt8]?
    var op: Op
    var collection: String?
    var vector: [Float] = []
    /// `search_batch`: all vectors, row-major, `vectorCount × vectorLength`.
    var vectors: [Float] = []
    var vectorCount = 0
    var vectorLength = 0
    var k = 10
    var parameters = SearchParameters()
    /// `params.target_recall`: use the fastest tuned setting reaching this recall.
    var targetRecall: Double?
    var excludeIds: [UInt64] = []
    var includeIds: [UInt64]?
    /// `filter.must` / `should` / `must_not`: conditions on payload fields and ids.
    var payloadFilter: PayloadFilter?
    var withPayload = false
    var itemId: UInt64 = 0
    var userId: UInt64?
    /// `recommend`: item ids the user interacted with, oldest first.
    var history: [UInt64] = []
    /// `recommend`: user features by name; `context`: the request's context by name.
    var features: [String: FeatureValue] = [:]
    var context: [String: FeatureValue] = [:]
    var rerank = Rerank()
    var excludeSeen = false
    var points: [Point] = []
    var ids: [UInt64] = []
    var token: String = ""
}
