import Foundation
import ShortlistProtocol

/// Client-side routing over a Shortlist cluster coordinated by etcd (`ClusterLayout`): searches
/// go to one server of every shard at once and their hits are merged by score (with a deadline,
/// reporting the shards that did not answer); writes go to the primary of each id's shard.
/// The topology is read from etcd when the client starts and again whenever a server cannot be
/// reached. Safe to share between threads.
public final class ClusterClient: @unchecked Sendable {
    public let layout: ClusterLayout
    /// Seconds a scatter-gather waits for the shards before answering without the late ones.
    public let deadline: Double
    private let etcd: EtcdClient
    private let token: String?
    private let lock = NSLock()
    private var topology = Topology(shards: 0, members: [], primaries: [])
    private var clients: [String: ShortlistClient] = [:]
    private var turn = 0

    /// The servers of each shard as etcd lists them.
    public struct Topology: Equatable, Sendable {
        public var shards: Int
        /// Per shard: `host:port` of every live server.
        public var members: [[String]]
        /// Per shard: `host:port` of the primary (nil while there is none).
        public var primaries: [String?]
    }

    /// What a search over every shard found.
    public struct SearchResult: Equatable, Sendable {
        /// The best `k` hits over the shards that answered, best first.
        public var hits: [Hit]
        /// Shards with no answer before the deadline (or none reachable): the hits are partial.
        public var missingShards: [Int]
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case noCluster(String)
        case noPrimary(shard: Int)

        public var description: String {
            switch self {
            case let .noCluster(s): return s
            case let .noPrimary(shard): return "shard \(shard) has no primary right now (an election is under way, or every server of it is down)"
            }
        }
    }

    public init(etcd endpoint: String, collection: String, token: String? = nil, deadline: Double = 2) throws {
        etcd = try EtcdClient(endpoint: endpoint, timeout: max(1, deadline))
        layout = ClusterLayout(collection: collection)
        self.token = token
        self.deadline = deadline
        try refresh()
    }

    /// Reads the topology from etcd.
    @discardableResult
    public func refresh() throws -> Topology {
        guard let count = try etcd.get(layout.shardsKey).flatMap({ Int($0.text) }), count > 0 else {
            throw Failure.noCluster("no cluster for collection '\(layout.collection)' in etcd at \(etcd.endpoint) (no \(layout.shardsKey))")
        }
        var members: [[String]] = [], primaries: [String?] = []
        for s in 0..<count {
            let named = try etcd.list(prefix: layout.membersPrefix(shard: s))
            var byName: [String: String] = [:]
            for kv in named { byName[String(kv.key.dropFirst(layout.membersPrefix(shard: s).count))] = kv.text }
            members.append(named.map(\.text))
            primaries.append(try etcd.get(layout.primaryKey(shard: s)).flatMap { byName[$0.text] })
        }
        let t = Topology(shards: count, members: members, primaries: primaries)
        lock.lock()
        topology = t
        lock.unlock()
        return t
    }

    public var currentTopology: Topology {
        lock.lock()
        defer { lock.unlock() }
        return topology
    }

    // MARK: Reads

    /// The `options.k` nearest items to `vector` over every shard (each shard's top k, merged by
    /// score). Shards that do not answer within the deadline are listed in `missingShards`.
    public func search(_ vector: [Float], options: QueryOptions = QueryOptions(), collection: String? = nil) throws -> SearchResult {
        let name = collection ?? layout.collection
        var t = currentTopology
        if t.members.contains(where: \.isEmpty) { t = (try? refresh()) ?? t }
        let answers = Answers(count: t.shards)
        let group = DispatchGroup()
        for s in 0..<t.shards {
            guard let address = pick(t.members[s]) else { continue }
            group.enter()
            DispatchQueue.global().async { [self] in
                defer { group.leave() }
                guard let client = try? client(for: address),
                      let r = try? client.search(collection: name, vector: vector, options: options) else { return }
                answers.set(s, r.hits)
            }
        }
        _ = group.wait(timeout: .now() + deadline)
        let got = answers.snapshot()
        let missing = (0..<t.shards).filter { got[$0] == nil }
        if !missing.isEmpty { _ = try? refresh() }
        let merged = got.compactMap { $0 }.flatMap { $0 }.sorted(by: Self.better)
        return SearchResult(hits: Array(merged.prefix(options.k)), missingShards: missing)
    }

    /// Higher score first; equal scores by id, so the merge is deterministic.
    private static func better(_ a: Hit, _ b: Hit) -> Bool {
        if a.score != b.score { return a.score > b.score }
        return a.id < b.id
    }

    /// The shards' answers as they arrive (late ones land after the snapshot and are ignored).
    private final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private var hits: [[Hit]?]
        init(count: Int) { hits = Array(repeating: nil, count: count) }
        func set(_ shard: Int, _ value: [Hit]) { lock.lock(); hits[shard] = value; lock.unlock() }
        func snapshot() -> [[Hit]?] { lock.lock(); defer { lock.unlock() }; return hits }
    }

    // MARK: Writes

    /// Upserts `points`, each on its shard's primary. Returns how many were written.
    @discardableResult
    public func upsert(_ points: [Request.Point], collection: String? = nil) throws -> Int {
        let t = currentTopology
        var byShard = [[Request.Point]](repeating: [], count: t.shards)
        for p in points { byShard[ClusterLayout.shard(of: p.id, shards: t.shards)].append(p) }
        var written = 0
        for (s, part) in byShard.enumerated() where !part.isEmpty {
            written += try onPrimary(shard: s) { try $0.upsert(collection: collection ?? layout.collection, points: part).changed }
        }
        return written
    }

    /// Deletes `ids`, each on its shard's primary. Returns how many were there.
    @discardableResult
    public func delete(_ ids: [UInt64], collection: String? = nil) throws -> Int {
        let t = currentTopology
        var byShard = [[UInt64]](repeating: [], count: t.shards)
        for id in ids { byShard[ClusterLayout.shard(of: id, shards: t.shards)].append(id) }
        var deleted = 0
        for (s, part) in byShard.enumerated() where !part.isEmpty {
            deleted += try onPrimary(shard: s) { try $0.delete(collection: collection ?? layout.collection, ids: part).changed }
        }
        return deleted
    }

    /// Runs `body` on shard `s`'s primary; after a failure that a new primary could fix (none
    /// known, unreachable, `not_primary`), reads the topology again and retries once.
    private func onPrimary<T>(shard s: Int, _ body: (ShortlistClient) throws -> T) throws -> T {
        for attempt in 0..<2 {
            let t = attempt == 0 ? currentTopology : try refresh()
            guard s < t.shards, let address = t.primaries[s] else {
                if attempt == 0 { continue }
                throw Failure.noPrimary(shard: s)
            }
            do {
                return try body(try client(for: address))
            } catch let e as ProtocolError where e.code == .notPrimary && attempt == 0 {
                continue
            } catch ClientError.connectFailed where attempt == 0 {
                continue
            }
        }
        throw Failure.noPrimary(shard: s)
    }

    // MARK: Connections

    private func pick(_ addresses: [String]) -> String? {
        guard !addresses.isEmpty else { return nil }
        lock.lock()
        turn &+= 1
        let i = turn % addresses.count
        lock.unlock()
        return addresses[i]
    }

    private func client(for address: String) throws -> ShortlistClient {
        lock.lock()
        if let c = clients[address] {
            lock.unlock()
            return c
        }
        lock.unlock()
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ClientError.connectFailed("'\(address)' is not host:port")
        }
        let c = try ShortlistClient(host: String(address[..<colon]), port: port, token: token, timeout: deadline)
        lock.lock()
        clients[address] = c
        lock.unlock()
        return c
    }
}
