import Foundation
import ShortlistCore
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
    private var clients: [String: [ShortlistClient]] = [:]
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
        // One read of the collection's whole prefix: one request, and one revision of etcd.
        var count = 0
        var names: [Int: [(name: String, address: String)]] = [:], primaryNames: [Int: String] = [:]
        for kv in try etcd.list(prefix: layout.prefix) {
            let path = kv.key.dropFirst(layout.prefix.count).split(separator: "/", omittingEmptySubsequences: false)
            if path == ["shards"] { count = Int(kv.text) ?? 0; continue }
            guard path.count >= 3, path[0] == "shard", let s = Int(path[1]) else { continue }
            if path.count == 4, path[2] == "member" { names[s, default: []].append((String(path[3]), kv.text)) }
            if path.count == 3, path[2] == "primary" { primaryNames[s] = kv.text }
        }
        guard count > 0 else {
            throw Failure.noCluster("no cluster for collection '\(layout.collection)' in etcd at \(etcd.endpoint) (no \(layout.shardsKey))")
        }
        let members = (0..<count).map { s in (names[s] ?? []).map(\.address) }
        let primaries = (0..<count).map { s in primaryNames[s].flatMap { p in names[s]?.first { $0.name == p }?.address } }
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

    /// What a request sent to every shard found: for `search`, `similar` and `recommend` one
    /// hit list, for `search_batch` one per query, each the best k over the shards that answered.
    public struct ScatterResult: Equatable, Sendable {
        public var lists: [[Hit]]
        /// Shards with no answer before the deadline (or none reachable): the hits are partial.
        public var missingShards: [Int]
        /// The slowest shard's `took_us`.
        public var tookMicroseconds: UInt64
    }

    /// The `options.k` nearest items to `vector` over every shard (each shard's top k, merged by
    /// score). Shards that do not answer within the deadline are listed in `missingShards`.
    public func search(_ vector: [Float], options: QueryOptions = QueryOptions(), collection: String? = nil) throws -> SearchResult {
        let r = try scatter(.search(.init(collection: collection ?? layout.collection, vector: vector, query: options)))
        return SearchResult(hits: r.lists.first ?? [], missingShards: r.missingShards)
    }

    /// Sends a `search`, `search_batch` or `recommend` to one server of every shard at once and
    /// merges the hits by score (each shard returns its own top k, which holds every hit of the
    /// global top k that lives on it). A shard that answers with an error (a bad vector, an
    /// unknown user: the same on every shard) makes the whole call throw it; shards that do not
    /// answer in time are reported in `missingShards`. Re-ranking stages (diversity, group
    /// limits) run on each shard's candidates before the merge.
    public func scatter(_ request: Request) throws -> ScatterResult {
        let k: Int, batch: Bool
        switch request {
        case let .search(r): (k, batch) = (r.query.k, false)
        case let .recommend(r): (k, batch) = (r.query.k, false)
        case let .searchBatch(r): (k, batch) = (r.query.k, true)
        default: throw ProtocolError(.unsupported, "op '\(request.op.rawValue)' is not sent to every shard")
        }
        var t = currentTopology
        if t.members.contains(where: \.isEmpty) { t = (try? refresh()) ?? t }
        // Written to every shard first, then read back, on this thread: the shards work at once
        // and no thread is woken per shard.
        let start = MonotonicClock.nanoseconds()
        // Each shard's servers in turn (round-robin first): one that cannot be reached, or whose
        // connection breaks before it answers, is passed over for the next while time remains.
        var order = (0..<t.shards).map { candidates(t.members[$0]) }
        var sent: [(shard: Int, address: String, client: ShortlistClient, sent: ShortlistClient.Sent)] = []
        for s in 0..<t.shards {
            if let first = send(request, toFirstOf: &order[s]) { sent.append((s, first.address, first.client, first.sent)) }
        }
        var got = [Result<([[Hit]], UInt64), ProtocolError>?](repeating: nil, count: t.shards)
        for first in sent {
            let s = first.shard
            var (address, client, handle) = (first.address, first.client, first.sent)
            var answer: Result<[UInt8], ProtocolError>?
            while answer == nil {
                let left = deadline - Double(MonotonicClock.nanoseconds() - start) / 1e9
                guard left > 0 else { break }
                do {
                    answer = try client.receive(handle, timeout: left).first
                    giveBack(client, to: address)
                } catch ClientError.timeout {
                    break
                } catch {
                    guard let next = send(request, toFirstOf: &order[s]) else { break }
                    (address, client, handle) = (next.address, next.client, next.sent)
                }
            }
            guard let reply = answer else { continue }
            switch reply {
            case let .success(json):
                if batch, let r = try? ResultDecoder.batch(json) {
                    got[s] = .success((r.results, r.tookMicroseconds))
                } else if !batch, let r = try? ResultDecoder.search(json) {
                    got[s] = .success(([r.hits], r.tookMicroseconds))
                }
            case let .failure(e) where !Self.unavailable.contains(e.code):
                got[s] = .failure(e)
            case .failure:
                break
            }
        }
        for case let .failure(e)? in got { throw e }
        let lists = got.compactMap { answer -> ([[Hit]], UInt64)? in
            guard case let .success(value)? = answer else { return nil }
            return value
        }
        let missing = (0..<t.shards).filter { got[$0] == nil }
        if !missing.isEmpty { _ = try? refresh() }
        let queries = lists.map(\.0.count).max() ?? (batch ? 0 : 1)
        let merged = (0..<queries).map { q in
            Array(lists.flatMap { $0.0.count > q ? $0.0[q] : [] }.sorted(by: Self.better).prefix(k))
        }
        return ScatterResult(lists: merged, missingShards: missing, tookMicroseconds: lists.map(\.1).max() ?? 0)
    }

    /// Items like the stored item `itemId`: its vector is read from its shard, then searched for
    /// on every shard, the item itself left out.
    public func similar(_ itemId: UInt64, options: QueryOptions = QueryOptions(), collection: String? = nil) throws -> ScatterResult {
        let name = collection ?? layout.collection
        let found = try get([itemId], collection: name)
        if let shard = found.missingShards.first {
            throw ProtocolError(.overloaded, "shard \(shard), which holds item \(itemId), cannot be reached; retry shortly")
        }
        guard let point = found.points.first else {
            throw ProtocolError(.notFound, "collection '\(name)' has no item with id \(itemId)")
        }
        var q = options
        q.excludeIds.append(itemId)
        return try scatter(.search(.init(collection: name, vector: point.vector, query: q)))
    }

    /// Stored vectors and payloads of `ids`, each read from a server of its shard; ids on
    /// shards that cannot be reached are reported in `missingShards`.
    public func get(_ ids: [UInt64], collection: String? = nil) throws -> (points: [StoredPoint], notFound: [UInt64], missingShards: [Int]) {
        var t = currentTopology
        if t.members.contains(where: \.isEmpty) { t = (try? refresh()) ?? t }
        var byShard = [[UInt64]](repeating: [], count: t.shards)
        for id in ids { byShard[ClusterLayout.shard(of: id, shards: t.shards)].append(id) }
        var points: [StoredPoint] = [], notFound: [UInt64] = [], missing: [Int] = []
        for (s, part) in byShard.enumerated() where !part.isEmpty {
            // The shard's servers in turn, until one answers.
            var answered = false
            for address in candidates(t.members[s]) where !answered {
                do {
                    let r = try withClient(address) { try $0.get(collection: collection ?? layout.collection, ids: part) }
                    points += r.points
                    notFound += r.notFound
                    answered = true
                } catch let e as ProtocolError where !Self.unavailable.contains(e.code) {
                    throw e
                } catch {
                    continue
                }
            }
            if !answered { missing.append(s) }
        }
        return (points, notFound, missing)
    }

    /// Errors that say the server cannot answer now (not that the request is bad): its shard is
    /// reported missing.
    private static let unavailable: Set<ProtocolError.Code> = [.shuttingDown, .idleTimeout, .overloaded, .tooManyConnections]

    /// Higher score first; equal scores by id, so the merge is deterministic.
    private static func better(_ a: Hit, _ b: Hit) -> Bool {
        if a.score != b.score { return a.score > b.score }
        return a.id < b.id
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
                return try withClient(address, body)
            } catch let e as ProtocolError where e.code == .notPrimary && attempt == 0 {
                continue
            } catch ClientError.connectFailed where attempt == 0 {
                continue
            }
        }
        throw Failure.noPrimary(shard: s)
    }

    // MARK: Connections

    /// `addresses` starting at the next in turn (reads spread over a shard's servers).
    private func candidates(_ addresses: [String]) -> [String] {
        guard !addresses.isEmpty else { return [] }
        lock.lock()
        turn &+= 1
        let i = turn % addresses.count
        lock.unlock()
        return Array(addresses[i...] + addresses[..<i])
    }

    /// Sends `request` to the first of `addresses` that takes it, removing the ones tried.
    private func send(_ request: Request, toFirstOf addresses: inout [String]) -> (address: String, client: ShortlistClient, sent: ShortlistClient.Sent)? {
        while !addresses.isEmpty {
            let address = addresses.removeFirst()
            if let client = try? takeClient(address), let handle = try? client.send([request]) { return (address, client, handle) }
        }
        return nil
    }

    /// A connection to `address` that no other call is using: idle ones wait in a pool per
    /// address, so concurrent calls (a router's workers) each get their own.
    private func takeClient(_ address: String) throws -> ShortlistClient {
        lock.lock()
        let pooled = clients[address]?.popLast()
        lock.unlock()
        if let pooled { return pooled }
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ClientError.connectFailed("'\(address)' is not host:port")
        }
        return try ShortlistClient(host: String(address[..<colon]), port: port, token: token, timeout: deadline)
    }

    /// Returns a connection whose last call ended cleanly (answered, or refused by the server).
    private func giveBack(_ client: ShortlistClient, to address: String) {
        lock.lock()
        clients[address, default: []].append(client)
        lock.unlock()
    }

    /// Runs `body` with a connection of its own to `address`.
    private func withClient<T>(_ address: String, _ body: (ShortlistClient) throws -> T) throws -> T {
        let c = try takeClient(address)
        do {
            let result = try body(c)
            giveBack(c, to: address)
            return result
        } catch let e as ProtocolError {
            giveBack(c, to: address)
            throw e
        }
    }
}
