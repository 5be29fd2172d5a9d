import ShortlistFeatures
import ShortlistIndex
@testable import ShortlistProtocol

/// The members of a parsed line by name, whichever op carries them (nil or empty where the op
/// has no such member), so the parser's tests read like the lines they parse.
extension RequestLine {
    var op: Request.Op { request.op }
    var collection: String? { request.collection }

    var query: QueryOptions {
        switch request {
        case let .search(r): return r.query
        case let .searchBatch(r): return r.query
        case let .similar(r): return r.query
        case let .recommend(r): return r.query
        default: return QueryOptions()
        }
    }

    var k: Int { query.k }
    var parameters: SearchParameters { query.parameters }
    var excludeIds: [UInt64] { query.excludeIds }
    var includeIds: [UInt64]? { query.includeIds }
    var withPayload: Bool { query.withPayload }

    var vector: [Float]? {
        if case let .search(r) = request { return r.vector }
        return nil
    }

    var vectors: [Float] {
        if case let .searchBatch(r) = request { return r.vectors }
        return []
    }

    var vectorCount: Int {
        if case let .searchBatch(r) = request { return r.count }
        return 0
    }

    var recommend: Request.Recommend? {
        if case let .recommend(r) = request { return r }
        return nil
    }

    var userId: UInt64? { recommend?.userId }
    var history: [UInt64] { recommend?.history ?? [] }
    var features: [String: FeatureValue] { recommend?.features ?? [:] }
    var context: [String: FeatureValue] { recommend?.context ?? [:] }

    var itemId: UInt64? {
        if case let .similar(r) = request { return r.itemId }
        return nil
    }

    var token: String? {
        if case let .auth(token) = request { return token }
        return nil
    }

    var points: [Request.Point] {
        if case let .upsert(_, points) = request { return points }
        return []
    }
}
