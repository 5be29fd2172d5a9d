import Foundation
import Logging
import ShortlistClient
import ShortlistProtocol
import Synchronization

/// A server's place in a cluster coordinated by etcd (`ClusterLayout`): it registers itself as a
/// member of its shard under a lease that dies with the process, and takes part in the shard's
/// election: the first member to create the shard's `primary` key (a transaction that succeeds
/// only when the key is absent) is primary until its lease ends; the others retry whenever they
/// find the key gone. A member that is not primary refuses writes with `not_primary`.
///
/// The lease is renewed every third of its TTL; a member whose lease expired (a pause longer
/// than the TTL, etcd unreachable) registers again under a new one. Nothing here is consensus of
/// our own: etcd's leases and transactions decide.
///
/// With a collection to replicate (`replicate(_:ackReplicas:ackTimeout:token:lineLimit:)`),
/// each member publishes where its log stands at every renewal; a member stands for election
/// only once it has seen the post empty at two renewals in a row and no live member publishes a
/// newer log, so the server with the newest log takes over. The primary's term is the etcd
/// revision that created its key: it numbers the records it writes, and replicas take records
/// only in the term etcd names. The primary ships its log to the shard's other members
/// (`ReplicationShipper`).
public final class ClusterMember: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        /// etcd's client URL.
        public var etcd: String
        public var collection: String
        /// This server's shard, in 0..<shards.
        public var shard: Int
        /// Shards of the collection; the first server to join records it, the others must agree.
        public var shards: Int
        /// This server's name in its shard (unique there; default host:port).
        public var name: String
        /// `host:port` clients reach this server at.
        public var advertise: String
        /// Seconds the lease lives without renewal (default 3): how long a dead primary keeps
        /// its post, and the failover time's main part.
        public var leaseSeconds: Int

        public init(etcd: String, collection: String, shard: Int, shards: Int, name: String, advertise: String, leaseSeconds: Int = 3) {
            self.etcd = etcd
            self.collection = collection
            self.shard = shard
            self.shards = shards
            self.name = name
            self.advertise = advertise
            self.leaseSeconds = leaseSeconds
        }

        /// Parses `etcd=URL,collection=C,shard=S,shards=N[,name=NAME][,lease=SECONDS]`; the
        /// advertised address is the server's (`advertise`).
        public init(parsing text: String, advertise: String) throws {
            var values: [String: String] = [:]
            for part in text.split(separator: ",") {
                guard let eq = part.firstIndex(of: "=") else { throw ConfigurationError.bad(text, "'\(part)' is not key=value") }
                values[String(part[..<eq])] = String(part[part.index(after: eq)...])
            }
            let known: Set<String> = ["etcd", "collection", "shard", "shards", "name", "lease"]
            if let unknown = values.keys.first(where: { !known.contains($0) }) { throw ConfigurationError.bad(text, "unknown key '\(unknown)'") }
            guard let etcd = values["etcd"], let collection = values["collection"] else { throw ConfigurationError.bad(text, "etcd= and collection= are required") }
            guard let shards = values["shards"].flatMap(Int.init), (1...4096).contains(shards) else { throw ConfigurationError.bad(text, "shards= must be in 1...4096") }
            guard let shard = values["shard"].flatMap(Int.init), (0..<shards).contains(shard) else { throw ConfigurationError.bad(text, "shard= must be in 0..<shards") }
            let lease = try values["lease"].map { v -> Int in
                guard let s = Int(v), (1...300).contains(s) else { throw ConfigurationError.bad(text, "lease= must be 1...300 seconds") }
                return s
            } ?? 3
            self.init(etcd: etcd, collection: collection, shard: shard, shards: shards, name: values["name"] ?? advertise, advertise: advertise, leaseSeconds: lease)
        }
    }

    public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
        case bad(String, String)
        case shardCountDiffers(recorded: Int, given: Int)

        public var description: String {
            switch self {
            case let .bad(text, why): return "--cluster \(text): \(why) (etcd=URL,collection=C,shard=S,shards=N[,name=NAME][,lease=SECONDS])"
            case let .shardCountDiffers(recorded, given): return "--cluster: the cluster has \(recorded) shards; this server was started with shards=\(given)"
            }
        }
    }

    public let configuration: Configuration
    public let layout: ClusterLayout
    private let etcd: EtcdClient
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let logger = Logger(label: "shortlist")

    private struct State {
        var lease: Int64 = 0
        var isPrimary = false
        var primary: String?
        /// The term of the primary's post as last read from etcd (the creation revision of the
        /// `primary` key; 0: no primary known).
        var primaryTerm: UInt64 = 0
        /// Whether the last renewal found the primary's post empty.
        var vacancySeen = false
        /// The position last published to etcd.
        var published: LogPosition?
    }

    /// The collection replicated within the shard, and how (nil: membership and election only).
    private var replication: (collection: ServedCollection, settings: ReplicationShipper.Settings)?

    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        layout = ClusterLayout(collection: configuration.collection)
        etcd = try EtcdClient(endpoint: configuration.etcd, timeout: Double(max(1, configuration.leaseSeconds)))
    }

    /// Whether this server is its shard's primary now.
    public var isPrimary: Bool { state.withLock { $0.isPrimary } }

    /// The shard's primary's name as last seen (nil: none).
    public var primaryName: String? { state.withLock { $0.primary } }

    /// Replicates `collection` within the shard: as primary this server ships its log to the
    /// shard's other members; as replica it takes theirs. Call before `start`.
    /// `lineLimit` is the servers' `--max-line-bytes`: batches of records are kept within it.
    public func replicate(_ collection: ServedCollection, ackReplicas: Int = 0, ackTimeout: Double = 5, token: String? = nil,
                          lineLimit: Int = ServerLimits().maximumLineBytes) {
        var settings = ReplicationShipper.Settings()
        settings.ackReplicas = ackReplicas
        settings.ackTimeout = ackTimeout
        settings.token = token
        settings.batchBytes = min(settings.batchBytes, ReplicationShipper.Settings.recordRoom(lineLimit: lineLimit))
        replication = (collection, settings)
    }

    /// Why `replicate` or `install` from a primary of `term` is refused (nil: taken). Only the
    /// primary etcd names now is obeyed: a term other than its post's is refused, after one
    /// read of etcd when the term is newer than the one last seen (a primary just elected).
    public func replicationRefusal(term: UInt64) -> ProtocolError? {
        if term > state.withLock({ $0.primaryTerm }), let kv = try? etcd.get(layout.primaryKey(shard: configuration.shard)) {
            state.withLock { s in
                s.primaryTerm = max(s.primaryTerm, UInt64(max(0, kv.createRevision)))
                s.primary = kv.text
            }
        }
        return state.withLock { s in
            if s.isPrimary {
                return ProtocolError(.staleTerm, "this server is the primary of shard \(configuration.shard) (term \(s.primaryTerm)); a sender of term \(term) is not")
            }
            guard term == s.primaryTerm else {
                return ProtocolError(.staleTerm, "term \(term) is not the term of shard \(configuration.shard)'s primary (\(s.primaryTerm)); the sender is not the primary")
            }
            return nil
        }
    }

    /// Registers, runs the first election, and starts renewing in the background.
    public func start() throws {
        let c = configuration
        let recorded = try etcd.createIfAbsent(layout.shardsKey, Array(String(c.shards).utf8)).current.flatMap { Int($0.text) }
        if let recorded, recorded != c.shards { throw ConfigurationError.shardCountDiffers(recorded: recorded, given: c.shards) }
        try register()
        if !isPrimary && replication == nil {
            logger.warning("cluster: this server is a replica but replicates no collection (ClusterMember.replicate); it receives none of the primary's writes")
        }
        // The thread holds the member weakly: a member that is released leaves the cluster
        // (deinit) instead of renewing its lease forever.
        let period = max(0.2, Double(configuration.leaseSeconds) / 3)
        let t = Thread { [weak self] in
            while true {
                Thread.sleep(forTimeInterval: period)
                // A strong reference for one renewal at a time only.
                guard let member = self, !member.stopping.load(ordering: .relaxed) else { return }
                member.renewOnce()
            }
        }
        t.name = "shortlist-cluster"
        t.start()
    }

    /// Leaves the cluster at once (revoking the lease deletes the member and primary keys, so
    /// another member can take over without waiting for the TTL).
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiring) else { return }
        stepDown()
        let lease = state.withLock { $0.lease }
        if lease != 0 { try? etcd.revoke(lease) }
    }

    /// A refusal for writes while this server is not the primary (nil while it is).
    public func writeRefusal() -> ProtocolError? {
        let (primary, name) = state.withLock { ($0.isPrimary, $0.primary) }
        guard !primary else { return nil }
        let who = name.map { "the primary is '\($0)'" } ?? "the shard has no primary right now"
        return ProtocolError(.notPrimary, "this server is a replica of shard \(configuration.shard) of '\(configuration.collection)'; \(who)")
    }

    private func register() throws {
        let lease = try etcd.grantLease(ttlSeconds: configuration.leaseSeconds)
        try etcd.put(layout.memberKey(shard: configuration.shard, name: configuration.name), Array(configuration.advertise.utf8), lease: lease)
        state.withLock {
            $0.lease = lease
            $0.published = nil
        }
        try elect()
    }

    /// Publishes where the log stands, takes the primary's post when it is free and this server
    /// may stand (see the type's notes), records who holds it, and keeps a primary's replica
    /// links in step with the shard's members.
    private func elect() throws {
        let c = configuration
        let lease = state.withLock { $0.lease }
        var keys: [EtcdClient.KeyValue] = []
        if let replication {
            let position = replication.collection.logPosition
            if state.withLock({ $0.published }) != position {
                try etcd.put(layout.positionKey(shard: c.shard, name: c.name), Array(position.description.utf8), lease: lease)
                state.withLock { $0.published = position }
            }
            keys = try etcd.list(prefix: layout.shardPrefix(shard: c.shard))
            let primaryKey = layout.primaryKey(shard: c.shard)
            if !isPrimary, !keys.contains(where: { $0.key == primaryKey }) {
                let positions = layout.shardPrefix(shard: c.shard) + "position/"
                let newer = keys.contains { kv in
                    kv.key.hasPrefix(positions) && kv.key != positions + c.name && (LogPosition(kv.text).map { $0 > position } ?? false)
                }
                let firstLook = state.withLock { s -> Bool in
                    defer { s.vacancySeen = true }
                    s.primary = nil
                    s.primaryTerm = 0
                    return !s.vacancySeen
                }
                // Wait a renewal (every member publishes meanwhile), and for a newer log.
                if firstLook || newer { return }
            }
        }
        let (created, current) = try etcd.createIfAbsent(layout.primaryKey(shard: c.shard), Array(c.name.utf8), lease: lease)
        let holder = current?.text
        let mine = holder == c.name && current?.lease == lease
        let was = state.withLock { s -> Bool in
            s.vacancySeen = false
            s.primary = holder
            s.primaryTerm = UInt64(max(0, current?.createRevision ?? 0))
            return s.isPrimary
        }
        if mine && !was {
            becomePrimary(term: UInt64(max(0, current?.createRevision ?? 0)))
        } else if !mine && was {
            stepDown()
        }
        if created || mine != was {
            logger.info("cluster: \(mine ? "primary" : "replica") of shard \(c.shard) of '\(c.collection)'", metadata: ["primary": "\(holder ?? "none")"])
        }
        if mine, let shipper = replication?.collection.shipper {
            if keys.isEmpty { keys = try etcd.list(prefix: layout.shardPrefix(shard: c.shard)) }
            let members = layout.membersPrefix(shard: c.shard)
            shipper.update(replicas: Set(keys.filter { $0.key.hasPrefix(members) && $0.key != members + c.name }.map(\.text)))
        }
    }

    /// Takes the post: new records are written in `term`, and shipped to the replicas.
    private func becomePrimary(term: UInt64) {
        if let (collection, settings) = replication {
            collection.begin(term: term)
            collection.shipper = ReplicationShipper(collection: collection, term: term, settings: settings)
        }
        state.withLock { $0.isPrimary = true }
    }

    /// Leaves the post: writes are refused from now on, and the ones waiting for replicas fail.
    private func stepDown() {
        state.withLock { $0.isPrimary = false }
        if let collection = replication?.collection, let shipper = collection.shipper {
            collection.shipper = nil
            shipper.stop()
        }
    }

    deinit { stop() }

    /// One renewal: keeps the lease alive (registering again after an expiry) and takes the
    /// primary's post when it is free.
    private func renewOnce() {
        do {
            let lease = state.withLock { $0.lease }
            if try etcd.keepAlive(lease) == 0 {
                logger.warning("cluster: the lease expired; registering again")
                stepDown()
                try register()
            } else {
                try elect()
            }
        } catch {
            // etcd unreachable: stop acting as primary before the lease can have lapsed.
            stepDown()
            logger.warning("cluster: \(error)")
        }
    }
}
