#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistModel
import Synchronization

/// Everything the server does with a request line, without the network: routing (what may run
/// on the event loop and what goes to a worker), the ops themselves, reply encoding and
/// statistics. `ShortlistServer` puts it behind TCP; tests also drive it directly in memory.
public final class RequestProcessor: @unchecked Sendable {
    public let limits: ServerLimits
    let collections: [String: ServedCollection]
    let collectionOrder: [String]
    let stats = ServerStats()
    let parser: RequestParser
    private let authToken: [UInt8]?
    /// Worker threads serving this processor (reported by `info`).
    let workerCount: Int
    /// Open connections that have not authenticated (nil when auth is off).
    let pendingAuthentication: PendingAuthentication?
    /// Set once shutdown begins: new requests get `shutting_down`.
    let shuttingDown = Atomic<Bool>(false)
    /// Pending work, reported by `stats` (set by the server).
    var pendingWork: () -> Int = { 0 }
    /// Plain searches on flat and IVF collections that one worker takes together run as one
    /// batch search (`SearchBatcher`; default on).
    var microBatching = true

    /// Lines up to this long are parsed on the event loop (ping, info and such are answered
    /// there); longer ones are parsed by a worker.
    static let inlineParseLimit = 1_024
    /// Before authentication, lines longer than this are refused unread.
    static let unauthenticatedLineLimit = 64 << 10

    /// Per-connection state, touched only on the connection's event loop.
    public final class Session {
        public internal(set) var authenticated: Bool
        init(authenticated: Bool) { self.authenticated = authenticated }
    }

    /// Where a line goes next.
    enum Route {
        /// The reply, computed inline.
        case reply([UInt8])
        /// Parsed; run on a worker.
        case parsed(Request, start: UInt64)
        /// Not parsed yet (long line); parse and run on a worker. `op` is what `sniffOp` read
        /// (nil: unknown until the full parse), so the connection can order writes.
        case raw([UInt8], start: UInt64, op: Request.Op?)

        /// The line is a write (`upsert`, `delete`), as far as is known before running it.
        var isWrite: Bool {
            switch self {
            case .reply: return false
            case let .parsed(r, _): return r.op.isWrite
            case let .raw(_, _, op): return op?.isWrite ?? false
            }
        }
    }

    public init(collections: [ServedCollection], limits: ServerLimits = ServerLimits(), authToken: String? = nil, workerCount: Int = 1) throws {
        var map: [String: ServedCollection] = [:]
        for c in collections {
            guard map.updateValue(c, forKey: c.name) == nil else {
                throw CollectionError.invalidDescription(c.name, reason: "two collections have this name")
            }
        }
        self.collections = map
        collectionOrder = collections.map(\.name)
        self.limits = limits
        parser = RequestParser(limits: limits)
        self.authToken = authToken.map { Array($0.utf8) }
        pendingAuthentication = authToken == nil ? nil : PendingAuthentication()
        self.workerCount = workerCount
    }

    public func makeSession() -> Session { Session(authenticated: authToken == nil) }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: Routing

    func route(_ line: UnsafeBufferPointer<UInt8>, session: Session) -> Route {
        let start = Self.now()
        if !session.authenticated {
            guard line.count <= Self.unauthenticatedLineLimit else {
                return .reply(failure(id: nil, op: nil, start: start, ProtocolError(.unauthorized, "authenticate first: {\"op\":\"auth\",\"token\":…}")))
            }
            switch parser.parse(line) {
            case let .failure(id, error): return .reply(failure(id: id, op: nil, start: start, error))
            case let .request(r):
                guard r.op == .auth else {
                    return .reply(failure(id: r.id, op: r.op, start: start, ProtocolError(.unauthorized, "authenticate first: {\"op\":\"auth\",\"token\":…}")))
                }
                return .reply(authenticate(r, session: session, start: start))
            }
        }
        if shuttingDown.load(ordering: .relaxed) {
            var id: [UInt8]?
            if line.count <= Self.inlineParseLimit, case let .request(r) = parser.parse(line) { id = r.id }
            return .reply(failure(id: id, op: nil, start: start, ProtocolError(.shuttingDown, "the server is shutting down")))
        }
        guard line.count <= Self.inlineParseLimit else { return .raw(Array(line), start: start, op: RequestParser.sniffOp(line)) }
        switch parser.parse(line) {
        case let .failure(id, error): return .reply(failure(id: id, op: nil, start: start, error))
        case let .request(r):
            if r.op == .auth { return .reply(authenticate(r, session: session, start: start)) }
            if r.op.isInline { return .reply(execute(r, start: start)) }
            return .parsed(r, start: start)
        }
    }

    /// Parses and runs a long line (on a worker); see `execute(_:start:later:)`.
    func execute(raw: [UInt8], start: UInt64, batcher: SearchBatcher? = nil, later: @escaping ([UInt8]) -> Void) -> Outcome {
        let outcome = raw.withUnsafeBufferPointer { parser.parse($0) }
        switch outcome {
        case let .failure(id, error): return .reply(failure(id: id, op: nil, start: start, error))
        case let .request(r):
            if r.op == .auth { return .reply(failure(id: r.id, op: .auth, start: start, ProtocolError(.invalidRequest, "an auth line is short"))) }
            return execute(r, start: start, batcher: batcher, later: later)
        }
    }

    /// Handles one line start to finish on the calling thread (in-memory use and tests).
    public func handle(_ line: String, session: Session) -> String {
        var bytes = Array(line.utf8)
        if bytes.last == 0x0A { bytes.removeLast() }
        let route = bytes.withUnsafeBufferPointer { self.route($0, session: session) }
        let reply: [UInt8]
        switch route {
        case let .reply(r): reply = r
        case let .parsed(request, start): reply = execute(request, start: start)
        case let .raw(raw, start, _): reply = waitForReply { execute(raw: raw, start: start, later: $0) }
        }
        return String(decoding: reply, as: UTF8.self)
    }

    private func authenticate(_ r: Request, session: Session, start: UInt64) -> [UInt8] {
        if let authToken {
            guard Self.constantTimeEqual(Array(r.token.utf8), authToken) else {
                return failure(id: r.id, op: .auth, start: start, ProtocolError(.unauthorized, "wrong token"))
            }
        }
        session.authenticated = true
        return success(id: r.id, op: .auth, start: start) { o in o.raw("{\"authenticated\":true}") }
    }

    /// Compares without an early exit, so the time taken does not reveal how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0, y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }

    // MARK: Ops

    /// Runs a parsed request and encodes its reply (on a worker, except the inline ops).
    func execute(_ r: Request, start: UInt64) -> [UInt8] {
        do {
            switch r.op {
            case .ping: return success(id: r.id, op: .ping, start: start) { $0.raw("{\"pong\":true}") }
            case .info: return success(id: r.id, op: .info, start: start) { self.encodeInfo(&$0) }
            case .stats: return success(id: r.id, op: .stats, start: start) { self.encodeStats(&$0) }
            case .auth: return failure(id: r.id, op: .auth, start: start, ProtocolError(.invalidRequest, "auth is answered on the event loop"))
            case .search:
                return try searchReply(r, in: try collection(r), around: r.vector, filter: filter(r), start: start)
            case .searchBatch:
                let c = try collection(r)
                guard r.k * r.vectorCount <= limits.maximumResultsPerRequest else {
                    throw ProtocolError(.limitExceeded, "k × vectors is \(r.k * r.vectorCount), more than the \(limits.maximumResultsPerRequest) hits one request may ask for; split the batch or lower k")
                }
                let lists = try c.searchBatch(r.vectors, count: r.vectorCount, k: r.k, parameters: try c.searchParameters(r.parameters, targetRecall: r.targetRecall), filter: filter(r), withPayload: r.withPayload)
                return success(id: r.id, op: .searchBatch, start: start) { o in
                    o.raw("{\"results\":[")
                    for (i, hits) in lists.enumerated() {
                        if i > 0 { o.comma() }
                        self.encodeHitArray(hits, into: &o)
                    }
                    o.raw("],\"took_us\":"); o.uint((Self.now() - start) / 1000); o.raw("}")
                }
            case .similar:
                let c = try collection(r)
                let v = try c.vector(of: r.itemId)
                var f = filter(r)
                f.exclude.insert(r.itemId)
                return try searchReply(r, in: c, around: v, filter: f, start: start)
            case .recommend:
                let c = try collection(r)
                guard let recommender = c.recommender else {
                    throw ProtocolError(.unsupported, "collection '\(c.name)' was loaded without a model (serve it as \(c.name)=INDEX,model=DIR)")
                }
                guard r.userId != nil || !r.history.isEmpty || !r.features.isEmpty || !r.context.isEmpty else {
                    throw ProtocolError(.invalidRequest, "op 'recommend' needs at least one of 'user_id', 'history', 'features' and 'context'")
                }
                let v = try recommender.userVector(UserQuery(userId: r.userId, history: r.history, features: r.features, context: r.context))
                var f = filter(r)
                if r.excludeSeen {
                    f.exclude.formUnion(r.history)
                    if let id = r.userId { f.exclude.formUnion(try recommender.seenItems(id)) }
                }
                return try searchReply(r, in: c, around: v, filter: f, start: start)
            case .upsert, .delete:
                return waitForReply { executeWrite(r, start: start, later: $0) }
            case .get:
                let c = try collection(r)
                let found = c.get(r.ids)
                return success(id: r.id, op: .get, start: start) { o in
                    o.raw("{\"points\":[")
                    var first = true
                    for p in found.compactMap({ $0 }) {
                        if o.bytes.count > self.limits.maximumReplyBytes { break }
                        if !first { o.comma() }
                        first = false
                        o.raw("{\"id\":"); o.uint(p.id); o.raw(",\"vector\":"); o.floats(p.vector)
                        o.raw(",\"payload\":"); if let payload = p.payload { o.raw(payload) } else { o.raw("null") }
                        o.raw("}")
                    }
                    o.raw("],\"not_found\":[")
                    self.encodeIds(zip(r.ids, found).filter { $0.1 == nil }.map(\.0), into: &o)
                    o.raw("]}")
                }
            case .save:
                let targets = try r.collection.map { _ in [try collection(r)] } ?? collectionOrder.map { collections[$0]! }
                for c in targets { try c.save() }
                return success(id: r.id, op: .save, start: start) { o in
                    o.raw("{\"saved\":[")
                    for (i, c) in targets.enumerated() {
                        if i > 0 { o.comma() }
                        o.string(c.name)
                    }
                    o.raw("],\"took_us\":"); o.uint((Self.now() - start) / 1000); o.raw("}")
                }
            }
        } catch {
            return failure(id: r.id, op: r.op, start: start, ProtocolError.from(error))
        }
    }

    /// `save` requests running (shutdown waits for them).
    let savesRunning = Atomic<Int>(0)
    /// Where `save` requests run (each collection still snapshots one at a time).
    private static let saveQueue = DispatchQueue(label: "shortlist.save", attributes: .concurrent)

    /// What `execute(_:start:later:)` did with a request.
    enum Outcome {
        /// The reply, ready now.
        case reply([UInt8])
        /// A write waiting for its log record to reach the disk; the reply will go to `later`.
        case pending
    }

    /// Runs a request without blocking on the disk: a write whose log record is not yet synced
    /// returns `.pending`, and its reply is handed to `later` from the log's syncer thread once
    /// the record is durable (group commit: the worker thread is free meanwhile).
    ///
    /// With a `batcher` (a worker's) and `microBatching` on, a plain search on a flat or IVF
    /// collection is handed to it and answered through `later` once the worker has run its jobs.
    func execute(_ r: Request, start: UInt64, batcher: SearchBatcher? = nil, later: @escaping ([UInt8]) -> Void) -> Outcome {
        if let batcher, microBatching, r.op == .search, r.excludeIds.isEmpty, r.includeIds == nil, r.payloadFilter == nil, r.rerank.isEmpty,
           let name = r.collection, let c = collections[name], c.batchesWell,
           let parameters = try? c.searchParameters(r.parameters, targetRecall: r.targetRecall) {
            batcher.add(SearchBatcher.Pending(collection: c, vector: r.vector, k: r.k, parameters: parameters, withPayload: r.withPayload) { result in
                switch result {
                case let .success(hits): later(self.success(id: r.id, op: .search, start: start) { o in self.encodeHits(hits, start: start, into: &o) })
                case let .failure(error): later(self.failure(id: r.id, op: .search, start: start, ProtocolError.from(error)))
                }
            })
            return .pending
        }
        if r.op == .save {
            // A snapshot writes files for hundreds of milliseconds: not on a worker, whose
            // searches would wait for it.
            savesRunning.add(1, ordering: .relaxed)
            Self.saveQueue.async {
                later(self.execute(r, start: start))
                self.savesRunning.subtract(1, ordering: .relaxed)
            }
            return .pending
        }
        return r.op.isWrite ? executeWrite(r, start: start, later: later) : .reply(execute(r, start: start))
    }

    /// The reply of `run`, waiting on this thread when it comes later (writes waiting for the disk).
    private func waitForReply(_ run: (@escaping ([UInt8]) -> Void) -> Outcome) -> [UInt8] {
        let done = DispatchSemaphore(value: 0)
        var later: [UInt8] = []
        if case let .reply(now) = run({ later = $0; done.signal() }) { return now }
        done.wait()
        return later
    }

    private func executeWrite(_ r: Request, start: UInt64, later: @escaping ([UInt8]) -> Void) -> Outcome {
        do {
            let c = try collection(r)
            let sequence: UInt64?
            var deleted = 0, missing: [UInt64] = []
            if r.op == .upsert {
                sequence = try c.upsertLogged(try embedFeatures(r.points, in: c))
            } else {
                (deleted, missing, sequence) = try c.deleteLogged(r.ids)
            }
            let reply: (ProtocolError?) -> [UInt8] = { error in
                if let error { return self.failure(id: r.id, op: r.op, start: start, error) }
                let count = c.count
                return self.success(id: r.id, op: r.op, start: start) { o in
                    if r.op == .upsert {
                        o.raw("{\"upserted\":"); o.int(r.points.count); o.raw(",\"count\":"); o.int(count); o.raw("}")
                    } else {
                        o.raw("{\"deleted\":"); o.int(deleted)
                        o.raw(",\"not_found\":["); self.encodeIds(missing, into: &o)
                        o.raw("],\"count\":"); o.int(count); o.raw("}")
                    }
                }
            }
            if c.whenDurable(sequence, { later(reply($0)) }) { return .reply(reply(nil)) }
            return .pending
        } catch {
            return .reply(failure(id: r.id, op: r.op, start: start, ProtocolError.from(error)))
        }
    }

    /// Points with `features` instead of a vector, embedded by the collection's item tower (the
    /// log records the vector, so replay never needs the model).
    private func embedFeatures(_ points: [Request.Point], in c: ServedCollection) throws -> [Request.Point] {
        guard points.contains(where: { $0.features != nil }) else { return points }
        guard let recommender = c.recommender, recommender.embedsItems else {
            throw ProtocolError(.unsupported, "collection '\(c.name)' has no model whose item tower reads features; send 'vector'")
        }
        return try points.map { p in
            guard let features = p.features else { return p }
            var q = p
            q.vector = try recommender.itemVector(features: features)
            q.features = nil
            return q
        }
    }

    /// Most (chosen hit, candidate) pairs a diversity or group-limit stage may weigh.
    static let maximumRerankWork = 1_000_000

    /// The hits around `vector` for a search-like op (search, similar, recommend), as a reply.
    private func searchReply(_ r: Request, in c: ServedCollection, around vector: [Float], filter: ServedCollection.Filter, start: UInt64) throws -> [UInt8] {
        let parameters = try c.searchParameters(r.parameters, targetRecall: r.targetRecall)
        if r.rerank.lambda != nil || r.rerank.groupBy != nil {
            // Each chosen hit is weighed against every candidate: bound the product.
            let pool = max(r.k, r.rerank.candidates ?? 100)
            guard r.k * pool <= Self.maximumRerankWork else {
                throw ProtocolError(.limitExceeded, "k × candidates is \(r.k * pool), more than the \(Self.maximumRerankWork) a re-ranking stage may weigh; lower k or diversity.candidates")
            }
        }
        let hits = r.rerank.isEmpty
            ? try c.search(vector, k: r.k, parameters: parameters, filter: filter, withPayload: r.withPayload)
            : try c.searchReranked(vector, k: r.k, parameters: parameters, filter: filter, withPayload: r.withPayload,
                                   rerank: r.rerank, maximumCandidates: limits.maximumK)
        return success(id: r.id, op: r.op, start: start) { o in self.encodeHits(hits, start: start, into: &o) }
    }

    private func collection(_ r: Request) throws -> ServedCollection {
        guard let name = r.collection else { throw ProtocolError(.invalidRequest, "op '\(r.op.rawValue)' needs member 'collection'") }
        guard let c = collections[name] else {
            throw ProtocolError(.unknownCollection, "no collection named '\(name)'; this server has \(collectionOrder.joined(separator: ", "))")
        }
        return c
    }

    private func filter(_ r: Request) -> ServedCollection.Filter {
        ServedCollection.Filter(exclude: Set(r.excludeIds), include: r.includeIds.map { Set($0) }, payload: r.payloadFilter)
    }

    /// Saves every collection changed since it was loaded or saved; returns the errors.
    public func saveDirtyCollections() -> [String] {
        var problems: [String] = []
        for name in collectionOrder where collections[name]!.isDirty {
            do { try collections[name]!.save() } catch { problems.append("\(error)") }
        }
        return problems
    }

    // MARK: Replies

    func success(id: [UInt8]?, op: Request.Op?, start: UInt64, _ body: (inout JSONOutput) -> Void) -> [UInt8] {
        var o = JSONOutput(capacity: 512)
        o.raw("{\"id\":")
        if let id { o.raw(id) } else { o.raw("null") }
        o.raw(",\"ok\":true,\"result\":")
        body(&o)
        // Encoders stop adding items once past the bound, so an oversized reply is never built whole.
        if o.bytes.count > limits.maximumReplyBytes {
            return failure(id: id, op: op, start: start, ProtocolError(.limitExceeded, "the reply would be longer than \(limits.maximumReplyBytes) bytes (the server's max_reply_bytes); ask for fewer hits, or without payloads"))
        }
        o.raw("}\n")
        stats.record(op: op, nanoseconds: Self.now() &- start, error: nil)
        return o.bytes
    }

    func failure(id: [UInt8]?, op: Request.Op?, start: UInt64, _ error: ProtocolError) -> [UInt8] {
        stats.record(op: op, nanoseconds: Self.now() &- start, error: error.code)
        return Self.errorLine(id: id, error)
    }

    /// An error reply line.
    static func errorLine(id: [UInt8]?, _ error: ProtocolError) -> [UInt8] {
        var o = JSONOutput(capacity: 128 + error.message.utf8.count)
        o.raw("{\"id\":")
        if let id { o.raw(id) } else { o.raw("null") }
        o.raw(",\"ok\":false,\"error\":{\"code\":"); o.string(error.code.rawValue)
        o.raw(",\"message\":"); o.string(error.message); o.raw("}}\n")
        return o.bytes
    }

    private func encodeHitArray(_ hits: [ServedCollection.Hit], into o: inout JSONOutput) {
        o.raw("[")
        for (i, h) in hits.enumerated() {
            if o.bytes.count > limits.maximumReplyBytes { break }
            if i > 0 { o.comma() }
            o.raw("{\"id\":"); o.uint(h.id); o.raw(",\"score\":"); o.float(h.score)
            if let p = h.payload { o.raw(",\"payload\":"); o.raw(p) }
            o.raw("}")
        }
        o.raw("]")
    }

    private func encodeHits(_ hits: [ServedCollection.Hit], start: UInt64, into o: inout JSONOutput) {
        o.raw("{\"hits\":")
        encodeHitArray(hits, into: &o)
        o.raw(",\"took_us\":"); o.uint((Self.now() - start) / 1000); o.raw("}")
    }

    private func encodeStrings(_ strings: [String], into o: inout JSONOutput) {
        for (i, s) in strings.enumerated() {
            if i > 0 { o.comma() }
            o.string(s)
        }
    }

    private func encodeIds(_ ids: [UInt64], into o: inout JSONOutput) {
        for (i, id) in ids.enumerated() {
            if i > 0 { o.comma() }
            o.uint(id)
        }
    }

    private func encodeInfo(_ o: inout JSONOutput) {
        o.raw("{\"version\":"); o.string(ServerVersion.string)
        o.raw(",\"workers\":"); o.int(workerCount)
        o.raw(",\"collections\":[")
        for (i, name) in collectionOrder.enumerated() {
            let c = collections[name]!
            if i > 0 { o.comma() }
            o.raw("{\"name\":"); o.string(name)
            o.raw(",\"kind\":"); o.string(c.kind)
            o.raw(",\"metric\":"); o.string(c.metric.rawValue)
            o.raw(",\"dimension\":"); o.int(c.dimension)
            o.raw(",\"count\":"); o.int(c.count)
            o.raw(",\"deleted_rows\":"); o.int(c.deadRows)
            o.raw(",\"spec\":"); o.string(c.spec)
            o.raw(",\"payloads\":"); o.int(c.payloadCount)
            o.raw(",\"payload_fields\":{")
            for (j, (field, f)) in c.payloadFields.sorted(by: { $0.key < $1.key }).enumerated() {
                if j > 0 { o.comma() }
                o.string(field)
                o.raw(":{\"type\":"); o.string(f.type)
                o.raw(",\"items\":"); o.int(f.items)
                o.raw(",\"values\":"); o.int(f.values)
                o.raw("}")
            }
            o.raw("}")
            o.raw(",\"recommend\":"); o.bool(c.recommender != nil)
            if let m = c.recommender {
                o.raw(",\"model\":{\"history\":"); o.int(m.historyLength)
                o.raw(",\"user_features\":["); self.encodeStrings(m.inputs.user, into: &o)
                o.raw("],\"context\":["); self.encodeStrings(m.inputs.context, into: &o)
                o.raw("],\"item_features\":["); self.encodeStrings(m.inputs.item, into: &o)
                o.raw("],\"unseen_users\":"); o.bool(m.embedsUnseenUsers)
                o.raw(",\"upsert_features\":"); o.bool(m.embedsItems)
                o.raw(",\"seen_sets\":"); o.bool(m.hasSeenSets)
                o.raw("}")
            }
            o.raw(",\"tuned\":"); o.bool(c.tuning != nil)
            o.raw("}")
        }
        o.raw("],\"limits\":{\"max_line_bytes\":"); o.int(limits.maximumLineBytes)
        o.raw(",\"max_k\":"); o.int(limits.maximumK)
        o.raw(",\"max_ef\":"); o.int(limits.maximumEf)
        o.raw(",\"max_nprobe\":"); o.int(limits.maximumNprobe)
        o.raw(",\"max_batch\":"); o.int(limits.maximumBatch)
        o.raw(",\"max_items\":"); o.int(limits.maximumItems)
        o.raw(",\"max_connections\":"); o.int(limits.maximumConnections)
        o.raw(",\"idle_timeout_s\":"); o.int(limits.idleTimeoutSeconds)
        o.raw(",\"max_results\":"); o.int(limits.maximumResultsPerRequest)
        o.raw(",\"max_reply_bytes\":"); o.int(limits.maximumReplyBytes)
        o.raw(",\"output_pause_bytes\":"); o.int(limits.outputPauseBytes)
        o.raw(",\"max_output_bytes\":"); o.int(limits.maximumOutputBytes)
        o.raw(",\"auth_timeout_s\":"); o.int(limits.authTimeoutSeconds)
        o.raw(",\"line_timeout_s\":"); o.int(limits.lineTimeoutSeconds)
        o.raw(",\"max_unauthenticated\":"); o.int(limits.maximumUnauthenticatedConnections)
        o.raw("}}")
    }

    private func encodeStats(_ o: inout JSONOutput) {
        let s = stats.snapshot()
        o.raw("{\"uptime_s\":"); o.double((s.uptimeSeconds * 1000).rounded() / 1000)
        o.raw(",\"connections\":{\"open\":"); o.int(s.connectionsOpen)
        o.raw(",\"total\":"); o.uint(s.connectionsTotal)
        o.raw(",\"refused\":"); o.uint(s.connectionsRefused)
        o.raw(",\"unauthenticated\":"); o.int(pendingAuthentication?.count ?? 0)
        o.raw(",\"dropped_requests\":"); o.uint(stats.droppedForClosedConnections.load(ordering: .relaxed))
        o.raw("},\"memory\":{\"resident_bytes\":"); o.int(s.residentBytes)
        o.raw("},\"pending\":"); o.int(pendingWork())
        o.raw(",\"ops\":{")
        for (i, name) in s.ops.keys.sorted().enumerated() {
            let r = s.ops[name]!
            if i > 0 { o.comma() }
            o.string(name)
            o.raw(":{\"count\":"); o.uint(r.requests)
            o.raw(",\"errors\":"); o.uint(r.errors)
            o.raw(",\"mean_us\":"); o.double((r.latency.mean / 10).rounded() / 100)
            for (key, q) in [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99), ("p999_us", 0.999)] {
                o.raw(","); o.string(key); o.raw(":"); o.double(Double(r.latency.value(atQuantile: q) / 10) / 100)
            }
            o.raw("}")
        }
        o.raw("},\"errors\":{")
        for (i, code) in s.errorsByCode.keys.sorted().enumerated() {
            if i > 0 { o.comma() }
            o.string(code); o.raw(":"); o.uint(s.errorsByCode[code]!)
        }
        o.raw("},\"collections\":{")
        for (i, name) in collectionOrder.enumerated() {
            let c = collections[name]!
            if i > 0 { o.comma() }
            o.string(name)
            o.raw(":{\"count\":"); o.int(c.count)
            o.raw(",\"memory_bytes\":"); o.int(c.memoryBytes)
            o.raw(",\"log_bytes\":"); o.int(c.logBytes)
            o.raw(",\"dirty\":"); o.bool(c.isDirty)
            let snap = c.snapshots
            o.raw(",\"snapshots\":{\"completed\":"); o.int(snap.completed)
            o.raw(",\"failed\":"); o.int(snap.failed)
            o.raw(",\"last_copy_ms\":"); o.double((snap.lastCopyMilliseconds * 1000).rounded() / 1000)
            o.raw(",\"last_total_ms\":"); o.double((snap.lastTotalMilliseconds * 1000).rounded() / 1000)
            o.raw(",\"last_error\":"); if let e = snap.lastError { o.string(e) } else { o.raw("null") }
            let compaction = c.compactions
            o.raw("},\"deleted_rows\":"); o.int(c.deadRows)
            o.raw(",\"compactions\":{\"completed\":"); o.int(compaction.completed)
            o.raw(",\"running\":"); o.bool(compaction.running)
            o.raw(",\"last_ms\":"); o.double((compaction.lastMilliseconds * 1000).rounded() / 1000)
            o.raw(",\"last_error\":"); if let e = compaction.lastError { o.string(e) } else { o.raw("null") }
            o.raw("}}")
        }
        o.raw("}}")
    }
}
