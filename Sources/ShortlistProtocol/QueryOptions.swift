import ShortlistIndex

/// What `search`, `search_batch`, `similar` and `recommend` share: how many hits, the index's
/// knobs, filters, payloads and the re-ranking stage.
public struct QueryOptions: Equatable, Sendable {
    /// Hits wanted (default 10; at most the server's `max_k`).
    public var k: Int
    /// `params`: ef, nprobe, rerank for this query only.
    public var parameters: SearchParameters
    /// `params.target_recall`: the fastest tuned setting reaching this recall (0, 1].
    public var targetRecall: Double?
    /// `filter.exclude_ids`: ids never returned.
    public var excludeIds: [UInt64]
    /// `filter.include_ids`: only these ids may be returned.
    public var includeIds: [UInt64]?
    /// `filter.must` / `should` / `must_not`: conditions on payload fields and ids.
    public var payloadFilter: PayloadFilter?
    /// `with_payload`: each hit carries its payload.
    public var withPayload: Bool
    /// `diversity`, `group_by` / `max_per_group`, `boost`.
    public var rerank: Rerank

    public init(k: Int = 10, parameters: SearchParameters = SearchParameters(), targetRecall: Double? = nil, excludeIds: [UInt64] = [],
                includeIds: [UInt64]? = nil, payloadFilter: PayloadFilter? = nil, withPayload: Bool = false, rerank: Rerank = Rerank()) {
        self.k = k
        self.parameters = parameters
        self.targetRecall = targetRecall
        self.excludeIds = excludeIds
        self.includeIds = includeIds
        self.payloadFilter = payloadFilter
        self.withPayload = withPayload
        self.rerank = rerank
    }

    /// Nothing but k, knobs and payloads: a search that may run batched with others.
    public var isPlain: Bool { excludeIds.isEmpty && includeIds == nil && payloadFilter == nil && rerank.isEmpty }

    /// The re-ranking stage after retrieval (`Reranker`).
    public struct Rerank: Equatable, Sendable {
        /// `diversity.lambda`: the MMR trade-off in [0, 1], or nil for none.
        public var lambda: Float?
        /// `diversity.candidates`: how many hits to re-rank (at least k; default 100).
        public var candidates: Int?
        /// `group_by` / `max_per_group`: a payload field and the limit of hits per value.
        public var groupBy: String?
        public var maxPerGroup: Int?
        /// `boost`: payload field → value → added to the score.
        public var boosts: [String: [String: Float]]

        public init(lambda: Float? = nil, candidates: Int? = nil, groupBy: String? = nil, maxPerGroup: Int? = nil, boosts: [String: [String: Float]] = [:]) {
            self.lambda = lambda
            self.candidates = candidates
            self.groupBy = groupBy
            self.maxPerGroup = maxPerGroup
            self.boosts = boosts
        }

        public var isEmpty: Bool { lambda == nil && groupBy == nil && boosts.isEmpty }
    }
}
