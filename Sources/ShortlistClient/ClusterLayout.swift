/// How a Shortlist cluster is laid out in etcd, and which shard holds an id. Under the prefix
/// `/shortlist/<collection>/`:
///
/// - `shards`: the number of shards, set by the first server to join (the others must agree);
/// - `shard/<s>/member/<name>`: `host:port` of each server of shard `s`, under the server's lease
///   (it vanishes when the server stops or stops renewing);
/// - `shard/<s>/primary`: the name of the shard's primary, created by a transaction only when
///   absent, under the primary's lease (its creation revision is the primary's term);
/// - `shard/<s>/position/<name>`: where each server's log stands (`term:lsn`), under its lease,
///   so that an election prefers the server with the newest log.
///
/// An id lives on shard `ClusterLayout.shard(of: id, shards: n)`: a 64-bit mix of the id, modulo
/// n, so consecutive ids spread evenly.
public struct ClusterLayout: Sendable, Equatable {
    public let collection: String

    public init(collection: String) { self.collection = collection }

    public var prefix: String { "/shortlist/\(collection)/" }
    public var shardsKey: String { prefix + "shards" }
    public func membersPrefix(shard: Int) -> String { prefix + "shard/\(shard)/member/" }
    public func memberKey(shard: Int, name: String) -> String { membersPrefix(shard: shard) + name }
    public func primaryKey(shard: Int) -> String { prefix + "shard/\(shard)/primary" }
    public func shardPrefix(shard: Int) -> String { prefix + "shard/\(shard)/" }
    public func positionKey(shard: Int, name: String) -> String { prefix + "shard/\(shard)/position/" + name }

    /// The shard of `id` among `shards` (splitmix64's finaliser, then modulo).
    public static func shard(of id: UInt64, shards: Int) -> Int {
        var z = id &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(max(1, shards)))
    }
}
