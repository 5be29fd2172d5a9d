import ShortlistClient
import ShortlistCore
import ShortlistProtocol

/// `shortlist route`: the protocol of one cluster collection for clients that cannot route
/// (docs/cluster.md). Stateless: `search`, `search_batch`, `recommend` and `similar` go to one
/// server of every shard and come back merged by score, with `missing_shards` listing shards that
/// did not answer within the deadline; `upsert` and `delete` go to each id's primary; `get` to a
/// server of each id's shard. `save` is the servers' own business.
public final class ClusterRouter: RequestForwarder, @unchecked Sendable {
    public let cluster: ClusterClient

    public init(cluster: ClusterClient) { self.cluster = cluster }

    public func forward(_ request: Request) throws -> [UInt8] {
        let name = cluster.layout.collection
        if let c = request.collection, c != name {
            throw ProtocolError(.unknownCollection, "no collection named '\(c)'; this router serves '\(name)'")
        }
        var o = JSONOutput(capacity: 512)
        do {
            switch request {
            case .search, .recommend:
                let r = try cluster.scatter(request)
                o.raw("{\"hits\":"); o.hitArray(r.lists.first ?? []); Self.end(r, &o)
            case .searchBatch:
                let r = try cluster.scatter(request)
                o.raw("{\"results\":[")
                for (i, list) in r.lists.enumerated() {
                    if i > 0 { o.comma() }
                    o.hitArray(list)
                }
                o.raw("]"); Self.end(r, &o)
            case let .similar(s):
                let r = try cluster.similar(s.itemId, options: s.query)
                o.raw("{\"hits\":"); o.hitArray(r.lists.first ?? []); Self.end(r, &o)
            case let .upsert(_, points):
                o.raw("{\"upserted\":"); o.int(try cluster.upsert(points)); o.raw("}")
            case let .delete(_, ids):
                o.raw("{\"deleted\":"); o.int(try cluster.delete(ids)); o.raw("}")
            case let .get(_, ids):
                let r = try cluster.get(ids)
                o.raw("{\"points\":"); o.pointArray(r.points)
                o.raw(",\"not_found\":"); o.idArray(r.notFound)
                o.raw(",\"missing_shards\":"); o.idArray(r.missingShards.map(UInt64.init)); o.raw("}")
            case .save:
                throw ProtocolError(.unsupported, "a router has nothing to save; send save to the servers")
            case .replicate, .install:
                throw ProtocolError(.unsupported, "a router holds no log; a primary sends '\(request.op.rawValue)' to its replicas directly")
            case .ping, .info, .stats, .auth:
                throw ProtocolError(.internalError, "op '\(request.op.rawValue)' reached the router's forwarder")
            }
        } catch let e as ClusterClient.Failure {
            throw ProtocolError(.overloaded, "\(e); retry shortly")
        }
        return o.bytes
    }

    private static func end(_ r: ClusterClient.ScatterResult, _ o: inout JSONOutput) {
        o.raw(",\"took_us\":"); o.uint(r.tookMicroseconds)
        o.raw(",\"missing_shards\":"); o.idArray(r.missingShards.map(UInt64.init)); o.raw("}")
    }
}
