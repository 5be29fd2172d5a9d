import Foundation
import ShortlistCore
import ShortlistIndex
import ShortlistModel
import ShortlistProtocol

extension RequestProcessor {
    /// What `execute(_:start:batcher:later:)` did with a request.
    enum Outcome {
        /// The reply, ready now.
        case reply([UInt8])
        /// A write waiting for its log record to reach the disk, a search handed to a batcher,
        /// or a snapshot: the reply will go to `later`.
        case pending
    }

    /// Where `save` requests run (each collection still snapshots one at a time).
    private static let saveQueue = DispatchQueue(label: "shortlist.save", attributes: .concurrent)

    /// Runs a request without blocking on the disk: a write whose log record is not yet synced
    /// returns `.pending`, and its reply is handed to `later` from the log's syncer thread once
    /// the record is durable (group commit: the worker thread is free meanwhile).
    ///
    /// With a `batcher` (a worker's) and `microBatching` on, a plain search on a flat or IVF
    /// collection is handed to it and answered through `later` once the worker has run its jobs.
    func execute(_ line: RequestLine, start: UInt64, batcher: SearchBatcher? = nil, later: @escaping ([UInt8]) -> Void) -> Outcome {
        let id = line.id
        if let forwarder, !line.request.op.isInline {
            do {
                let result = try forwarder.forward(line.request)
                return .reply(success(id: id, op: line.request.op, start: start) { $0.raw(result) })
            } catch {
                return .reply(failure(id: id, op: line.request.op, start: start, ProtocolError.from(error)))
            }
        }
        switch line.request {
        case let .search(r) where batcher != nil && microBatching && r.query.isPlain:
            guard let c = collections[r.collection], c.batchesWell,
                  let parameters = try? c.searchParameters(r.query.parameters, targetRecall: r.query.targetRecall) else { break }
            batcher!.add(SearchBatcher.Pending(collection: c, vector: r.vector, k: r.query.k, parameters: parameters, withPayload: r.query.withPayload) { result in
                switch result {
                case let .success(hits): later(self.success(id: id, op: .search, start: start) { o in self.encodeHits(hits, start: start, into: &o) })
                case let .failure(error): later(self.failure(id: id, op: .search, start: start, ProtocolError.from(error)))
                }
            })
            return .pending
        case .save:
            // A snapshot writes files for hundreds of milliseconds: not on a worker, whose
            // searches would wait for it.
            savesRunning.add(1, ordering: .relaxed)
            Self.saveQueue.async {
                later(self.execute(line, start: start))
                self.savesRunning.subtract(1, ordering: .relaxed)
            }
            return .pending
        case let .upsert(collection, points):
            return write(id: id, op: .upsert, collection: collection, start: start, later: later) { c in
                let embedded = try self.embedFeatures(points, in: c)
                try c.checkShippable(embedded, lineLimit: self.limits.maximumLineBytes)
                let sequence = try c.upsertLogged(embedded)
                return (sequence, { o, count in o.raw("{\"upserted\":"); o.int(points.count); o.raw(",\"count\":"); o.int(count); o.raw("}") })
            }
        case let .delete(collection, ids):
            return write(id: id, op: .delete, collection: collection, start: start, later: later) { c in
                let (deleted, missing, sequence) = try c.deleteLogged(ids)
                return (sequence, { o, count in
                    o.raw("{\"deleted\":"); o.int(deleted)
                    o.raw(",\"not_found\":"); o.idArray(missing)
                    o.raw(",\"count\":"); o.int(count); o.raw("}")
                })
            }
        case let .replicate(r):
            return write(id: id, op: .replicate, collection: r.collection, start: start, later: later, gate: { self.replicationRefusal(term: r.term) }) { c in
                let (accepted, position, sequence) = try c.applyReplicated(r.records, after: r.position)
                return (sequence, { o, _ in
                    o.raw("{\"accepted\":"); o.bool(accepted)
                    o.raw(",\"position\":"); o.position(position); o.raw("}")
                })
            }
        default: break
        }
        return .reply(execute(line, start: start))
    }

    /// Runs a read (or `save`) to its reply on this thread; writes wait here for the disk.
    func execute(_ line: RequestLine, start: UInt64) -> [UInt8] {
        let id = line.id, op = line.request.op
        do {
            switch line.request {
            case .ping: return success(id: id, op: op, start: start) { $0.raw("{\"pong\":true}") }
            case .info: return success(id: id, op: op, start: start) { self.encodeInfo(&$0) }
            case .stats: return success(id: id, op: op, start: start) { self.encodeStats(&$0) }
            case .auth: return failure(id: id, op: op, start: start, ProtocolError(.invalidRequest, "auth is answered on the event loop"))
            case let .search(r):
                let c = try collection(r.collection)
                return try searchReply(id: id, op: op, r.query, in: c, around: r.vector, filter: filter(r.query), start: start)
            case let .searchBatch(r):
                let c = try collection(r.collection), q = r.query
                guard q.k * r.count <= limits.maximumResultsPerRequest else {
                    throw ProtocolError(.limitExceeded, "k × vectors is \(q.k * r.count), more than the \(limits.maximumResultsPerRequest) hits one request may ask for; split the batch or lower k")
                }
                let lists = try c.searchBatch(r.vectors, count: r.count, k: q.k, parameters: try c.searchParameters(q.parameters, targetRecall: q.targetRecall),
                                              filter: filter(q), withPayload: q.withPayload)
                return success(id: id, op: op, start: start) { o in
                    o.raw("{\"results\":[")
                    for (i, hits) in lists.enumerated() {
                        if i > 0 { o.comma() }
                        o.hitArray(hits, byteLimit: self.limits.maximumReplyBytes)
                    }
                    o.raw("],\"took_us\":"); o.uint((MonotonicClock.nanoseconds() - start) / 1000); o.raw("}")
                }
            case let .similar(r):
                let c = try collection(r.collection)
                let v = try c.vector(of: r.itemId)
                var f = filter(r.query)
                f.exclude.insert(r.itemId)
                return try searchReply(id: id, op: op, r.query, in: c, around: v, filter: f, start: start)
            case let .recommend(r):
                let c = try collection(r.collection)
                guard let recommender = c.recommender else {
                    throw ProtocolError(.unsupported, "collection '\(c.name)' was loaded without a model (serve it as \(c.name)=INDEX,model=DIR)")
                }
                guard r.userId != nil || !r.history.isEmpty || !r.features.isEmpty || !r.context.isEmpty else {
                    throw ProtocolError(.invalidRequest, "op 'recommend' needs at least one of 'user_id', 'history', 'features' and 'context'")
                }
                let v = try recommender.userVector(UserQuery(userId: r.userId, history: r.history, features: r.features, context: r.context))
                var f = filter(r.query)
                if r.excludeSeen {
                    f.exclude.formUnion(r.history)
                    if let user = r.userId { f.exclude.formUnion(try recommender.seenItems(user)) }
                }
                return try searchReply(id: id, op: op, r.query, in: c, around: v, filter: f, start: start)
            case .upsert, .delete:
                return waitForReply { execute(line, start: start, later: $0) }
            case let .get(collection, ids):
                let found = try self.collection(collection).get(ids)
                return success(id: id, op: op, start: start) { o in
                    o.raw("{\"points\":"); o.pointArray(found.compactMap { $0 }, byteLimit: self.limits.maximumReplyBytes)
                    o.raw(",\"not_found\":"); o.idArray(zip(ids, found).filter { $0.1 == nil }.map(\.0))
                    o.raw("}")
                }
            case let .save(name):
                let targets = try name.map { [try collection($0)] } ?? collectionOrder.map { collections[$0]! }
                for c in targets { try c.save() }
                return success(id: id, op: op, start: start) { o in
                    o.raw("{\"saved\":[")
                    for (i, c) in targets.enumerated() {
                        if i > 0 { o.comma() }
                        o.string(c.name)
                    }
                    o.raw("],\"took_us\":"); o.uint((MonotonicClock.nanoseconds() - start) / 1000); o.raw("}")
                }
            case .replicate:
                return failure(id: id, op: op, start: start, ProtocolError(.internalError, "replicate is answered once its records are durable"))
            case let .install(r):
                let c = try collection(r.collection)
                if let refusal = replicationRefusal(term: r.term) { throw refusal }
                if let position = r.position {
                    try c.install(at: position)
                    return success(id: id, op: op, start: start) { o in o.raw("{\"position\":"); o.position(position); o.raw("}") }
                }
                let received = try c.installPart(r.part ?? .index, offset: r.offset, data: r.data)
                return success(id: id, op: op, start: start) { o in o.raw("{\"received\":"); o.int(received); o.raw("}") }
            }
        } catch {
            return failure(id: id, op: op, start: start, ProtocolError.from(error))
        }
    }

    /// A logged write: `apply` changes the collection and returns the log sequence to wait for
    /// and how to encode the result (given the collection's count afterwards). The reply goes
    /// out once the record is durable.
    private func write(id: [UInt8]?, op: Request.Op, collection name: String, start: UInt64, later: @escaping ([UInt8]) -> Void,
                       gate: (() -> ProtocolError?)? = nil, _ apply: (ServedCollection) throws -> (UInt64?, (inout JSONOutput, Int) -> Void)) -> Outcome {
        do {
            let c = try collection(name)
            if let refusal = gate.map({ $0() }) ?? writeGate?() { throw refusal }
            let (sequence, encode) = try apply(c)
            let reply: (ProtocolError?) -> [UInt8] = { error in
                if let error { return self.failure(id: id, op: op, start: start, error) }
                let count = c.count
                return self.success(id: id, op: op, start: start) { o in encode(&o, count) }
            }
            if c.whenDurable(sequence, { later(reply($0)) }) { return .reply(reply(nil)) }
            return .pending
        } catch {
            return .reply(failure(id: id, op: op, start: start, ProtocolError.from(error)))
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
    private func searchReply(id: [UInt8]?, op: Request.Op, _ q: QueryOptions, in c: ServedCollection, around vector: [Float],
                             filter: ServedCollection.Filter, start: UInt64) throws -> [UInt8] {
        let parameters = try c.searchParameters(q.parameters, targetRecall: q.targetRecall)
        if q.rerank.lambda != nil || q.rerank.groupBy != nil {
            // Each chosen hit is weighed against every candidate: bound the product.
            let pool = max(q.k, q.rerank.candidates ?? 100)
            guard q.k * pool <= Self.maximumRerankWork else {
                throw ProtocolError(.limitExceeded, "k × candidates is \(q.k * pool), more than the \(Self.maximumRerankWork) a re-ranking stage may weigh; lower k or diversity.candidates")
            }
        }
        let hits = q.rerank.isEmpty
            ? try c.search(vector, k: q.k, parameters: parameters, filter: filter, withPayload: q.withPayload)
            : try c.searchReranked(vector, k: q.k, parameters: parameters, filter: filter, withPayload: q.withPayload,
                                   rerank: q.rerank, maximumCandidates: limits.maximumK)
        return success(id: id, op: op, start: start) { o in self.encodeHits(hits, start: start, into: &o) }
    }

    /// Why `replicate` or `install` from a primary of `term` is refused (nil: taken).
    private func replicationRefusal(term: UInt64) -> ProtocolError? {
        guard let replicationGate else {
            return ProtocolError(.unsupported, "this server is not a cluster member; replication ops come from a cluster primary to its replicas")
        }
        return replicationGate(term)
    }

    private func collection(_ name: String) throws -> ServedCollection {
        guard let c = collections[name] else {
            throw ProtocolError(.unknownCollection, "no collection named '\(name)'; this server has \(collectionOrder.joined(separator: ", "))")
        }
        return c
    }

    private func filter(_ q: QueryOptions) -> ServedCollection.Filter {
        ServedCollection.Filter(exclude: Set(q.excludeIds), include: q.includeIds.map { Set($0) }, payload: q.payloadFilter)
    }
}
