extension Request {
    /// An op name on the wire, with the members it takes.
    public enum Op: String, CaseIterable, Sendable {
        case ping, info, stats, auth, search, searchBatch = "search_batch", similar, recommend
        case upsert, delete, get, save, replicate, install

        /// The members this op accepts besides `id` and `op`.
        public var members: [Member] {
            let query: [Member] = [.k, .params, .filter, .withPayload]
            let rerank: [Member] = [.diversity, .groupBy, .maxPerGroup, .boost]
            switch self {
            case .ping, .info, .stats: return []
            case .auth: return [.token]
            case .search: return [.collection, .vector] + query + rerank
            case .searchBatch: return [.collection, .vectors] + query
            case .similar: return [.collection, .itemId] + query + rerank
            case .recommend: return [.collection, .userId, .history, .features, .context, .excludeSeen] + query + rerank
            case .upsert: return [.collection, .points]
            case .delete, .get: return [.collection, .ids]
            case .save: return [.collection]
            case .replicate: return [.collection, .term, .position, .records]
            case .install: return [.collection, .term, .part, .offset, .data, .position]
            }
        }

        /// The members this op cannot do without.
        public var required: [Member] {
            switch self {
            case .ping, .info, .stats, .save: return []
            case .auth: return [.token]
            case .search: return [.collection, .vector]
            case .searchBatch: return [.collection, .vectors]
            case .similar: return [.collection, .itemId]
            case .recommend: return [.collection]
            case .upsert: return [.collection, .points]
            case .delete, .get: return [.collection, .ids]
            case .replicate, .install: return [.collection, .term]
            }
        }

        /// Ops answered at once on the connection's thread: constant work, no index access.
        public var isInline: Bool { self == .ping || self == .info || self == .stats || self == .auth }
        /// Ops that change a collection.
        public var isWrite: Bool { self == .upsert || self == .delete || self == .replicate || self == .install }
    }

    /// A top-level member of a request line.
    public enum Member: String, CaseIterable, Sendable {
        case id, op, collection, vector, vectors, k, params, filter
        case withPayload = "with_payload", excludeSeen = "exclude_seen", itemId = "item_id", userId = "user_id"
        case ids, points, token, history, features, context, diversity
        case groupBy = "group_by", maxPerGroup = "max_per_group", boost
        case term, position, records, part, offset, data

        /// The member's bit in a mask of members (its place in `allCases`).
        var bit: UInt32 { Self.bits[self]! }

        private static let bits = Dictionary(uniqueKeysWithValues: allCases.enumerated().map { ($1, UInt32(1) << UInt32($0)) })

        static func mask(_ members: [Member]) -> UInt32 { members.reduce(0) { $0 | $1.bit } }
    }
}
