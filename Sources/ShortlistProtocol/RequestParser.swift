import ShortlistCore
import ShortlistFeatures
import ShortlistIndex

/// Reads one request line with `JSONScanner` (no Foundation on the hot path: ~4 µs for a
/// 128-float search against ~100 µs for `JSONDecoder`, docs/performance.md §6).
///
/// Malformed JSON stops the parse (`parse_error`). A well-formed line with a bad member (wrong
/// type, out of range, unknown) is read to the end anyway, so the error reply can still echo the
/// request's `id`; the first such problem is reported.
public struct RequestParser: Sendable {
    public let limits: ServerLimits

    public init(limits: ServerLimits) { self.limits = limits }

    /// The outcome of parsing a line: the request, or the error to reply with and the `id` if it was read.
    public enum Outcome {
        case request(RequestLine)
        case failure(id: [UInt8]?, error: ProtocolError)
    }

    /// The members of a line as they are read, before the op decides which it takes.
    struct Members {
        var id: [UInt8]?
        var op: String?
        var collection: String?
        var token = ""
        var vector: [Float] = []
        /// `search_batch`: all vectors, row-major, `vectorCount` rows.
        var vectors: [Float] = []
        var vectorCount = 0
        var query = QueryOptions()
        var itemId: UInt64 = 0
        var userId: UInt64?
        var history: [UInt64] = []
        var features: [String: FeatureValue] = [:]
        var context: [String: FeatureValue] = [:]
        var excludeSeen = false
        var points: [Request.Point] = []
        var ids: [UInt64] = []
        var term: UInt64 = 0
        var position: LogPosition?
        var bytes: [UInt8] = []
        var part: Request.Install.Part?
        var offset = 0
    }

    /// Per op: the members it takes (with id and op) and the ones it needs, as bit masks.
    static let allowedMasks: [Request.Op: UInt32] = Dictionary(uniqueKeysWithValues: Request.Op.allCases.map {
        ($0, Request.Member.mask($0.members + [.id, .op]))
    })
    static let requiredMasks: [Request.Op: UInt32] = Dictionary(uniqueKeysWithValues: Request.Op.allCases.map { ($0, Request.Member.mask($0.required)) })

    public func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
        var s = JSONScanner(bytes)
        s.maximumDepth = 32
        var m = Members()
        var seen: UInt32 = 0
        var problem: ProtocolError?
        func note(_ e: ProtocolError) { if problem == nil { problem = e } }
        do {
            guard s.peek() == UInt8(ascii: "{") else {
                throw ProtocolError(.parseError, "a request is one JSON object per line")
            }
            try s.readObject { s, key in
                guard let member = Request.Member(rawValue: key) else {
                    try s.skipValue()
                    note(ProtocolError(.unknownField, "unknown member '\(key)'"))
                    return
                }
                guard seen & member.bit == 0 else {
                    note(ProtocolError(.invalidRequest, "member '\(key)' appears twice"))
                    try s.skipValue()
                    return
                }
                seen |= member.bit
                do {
                    try read(member, &s, &m)
                } catch let e as ProtocolError {
                    note(e)
                    // Skip the rest of a value a member reader gave up on (its start was not consumed).
                    if e.code != .parseError { try Self.skipRest(&s) }
                }
            }
            guard s.isAtEnd() else { throw ProtocolError(.parseError, "text after the request object at byte \(s.position)") }
        } catch let e as ProtocolError {
            return .failure(id: m.id, error: e)
        } catch {
            return .failure(id: m.id, error: ProtocolError(.parseError, "\(error)"))
        }
        if let problem { return .failure(id: m.id, error: problem) }
        guard let opName = m.op else { return .failure(id: m.id, error: ProtocolError(.invalidRequest, "missing member 'op'")) }
        guard let op = Request.Op(rawValue: opName) else {
            let known = Request.Op.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(id: m.id, error: ProtocolError(.unknownOp, "unknown op '\(opName)'; ops are \(known)"))
        }
        let extra = seen & ~Self.allowedMasks[op]!
        if extra != 0, let member = Request.Member.allCases.first(where: { $0.bit & extra != 0 }) {
            return .failure(id: m.id, error: ProtocolError(.unknownField, "op '\(opName)' takes no member '\(member.rawValue)'"))
        }
        if (m.query.rerank.groupBy == nil) != (m.query.rerank.maxPerGroup == nil) {
            return .failure(id: m.id, error: ProtocolError(.invalidRequest, "'group_by' and 'max_per_group' go together"))
        }
        if op == .install {
            let parts = Request.Member.mask([.part, .offset, .data])
            let commit = seen & Request.Member.position.bit != 0
            guard commit ? seen & parts == 0 : seen & parts == parts else {
                return .failure(id: m.id, error: ProtocolError(.invalidRequest, "op 'install' takes 'part', 'offset' and 'data' (a part of a file) or 'position' alone (the commit)"))
            }
        }
        if op == .replicate && seen & Request.Member.records.bit != 0 && m.position == nil {
            return .failure(id: m.id, error: ProtocolError(.invalidRequest, "op 'replicate' with 'records' needs the 'position' they follow"))
        }
        let missing = Self.requiredMasks[op]! & ~seen
        if missing != 0, let member = op.required.first(where: { $0.bit & missing != 0 }) {
            return .failure(id: m.id, error: ProtocolError(.invalidRequest, "op '\(opName)' needs member '\(member.rawValue)'"))
        }
        return .request(RequestLine(id: m.id, Self.request(op, m)))
    }

    /// The request of `op` from the members read (the masks have checked which are there).
    private static func request(_ op: Request.Op, _ m: Members) -> Request {
        let collection = m.collection ?? ""
        switch op {
        case .ping: return .ping
        case .info: return .info
        case .stats: return .stats
        case .auth: return .auth(token: m.token)
        case .search: return .search(.init(collection: collection, vector: m.vector, query: m.query))
        case .searchBatch: return .searchBatch(.init(collection: collection, vectors: m.vectors, count: m.vectorCount, query: m.query))
        case .similar: return .similar(.init(collection: collection, itemId: m.itemId, query: m.query))
        case .recommend:
            return .recommend(.init(collection: collection, userId: m.userId, history: m.history, features: m.features,
                                    context: m.context, excludeSeen: m.excludeSeen, query: m.query))
        case .upsert: return .upsert(collection: collection, points: m.points)
        case .delete: return .delete(collection: collection, ids: m.ids)
        case .get: return .get(collection: collection, ids: m.ids)
        case .save: return .save(collection: m.collection)
        case .replicate: return .replicate(.init(collection: collection, term: m.term, position: m.position, records: m.bytes))
        case .install:
            var r = Request.Install(collection: collection, term: m.term, part: m.part ?? .index, offset: m.offset, data: m.bytes)
            if let p = m.position { r = Request.Install(collection: collection, term: m.term, commit: p) }
            return .install(r)
        }
    }

    private struct Found: Error {}

    /// What a dispatcher needs of a line before it is parsed: its op and its `id`.
    public struct Envelope {
        /// Nil when the line is not a well-formed object up to its `op`, or names no known op.
        public var op: Request.Op?
        /// The `id` as raw JSON when it comes before `op` or the first malformed member.
        public var id: [UInt8]?
    }

    /// Reads a line's top-level members until both `op` and `id` are found, skipping the rest
    /// unparsed (cheap when they come first, as clients write them); once `op` is known it looks
    /// for `id` only within the first `idSearchBytes`, so a long line is not scanned to its end.
    /// The full parse reports what is wrong with a line.
    public static func envelope(_ bytes: UnsafeBufferPointer<UInt8>, idSearchBytes: Int = 1_024) -> Envelope {
        var s = JSONScanner(bytes)
        s.maximumDepth = 32
        var e = Envelope()
        guard s.peek() == UInt8(ascii: "{") else { return e }
        var opSeen = false
        do {
            try s.readObject { s, key in
                switch key {
                case "op":
                    opSeen = true
                    e.op = Request.Op(rawValue: try s.readString())
                case "id": e.id = try s.readRawValue()
                default: try s.skipValue()
                }
                if opSeen && (e.id != nil || s.position > idSearchBytes) { throw Found() }
            }
        } catch {}
        return e
    }

    /// After a member reader threw a `ProtocolError` mid-value, the scanner may sit inside that
    /// value; rewinding is not possible, so readers check types before consuming and this only
    /// has to skip a value that was not started.
    static func skipRest(_ s: inout JSONScanner) throws {
        if let c = s.peek(), c != UInt8(ascii: ","), c != UInt8(ascii: "}"), c != UInt8(ascii: "]") { try s.skipValue() }
    }

    private func read(_ member: Request.Member, _ s: inout JSONScanner, _ m: inout Members) throws {
        let key = member.rawValue
        switch member {
        case .id: m.id = try s.readRawValue()
        case .op: m.op = try Self.string(&s, key)
        case .collection: m.collection = try Self.string(&s, key)
        case .token: m.token = try Self.string(&s, key)
        case .vector: m.vector = try readVector(&s, key)
        case .vectors: try readVectors(&s, &m)
        case .k: m.query.k = try Self.integer(&s, key, 1...limits.maximumK)
        case .params: try readParameters(&s, &m)
        case .filter: try readFilter(&s, &m)
        case .withPayload: m.query.withPayload = try Self.bool(&s, key)
        case .excludeSeen: m.excludeSeen = try Self.bool(&s, key)
        case .itemId: m.itemId = try Self.id(&s, key)
        case .userId: m.userId = try Self.id(&s, key)
        case .ids: m.ids = try readIds(&s, key)
        case .points: try readPoints(&s, &m)
        case .history: m.history = try readIds(&s, key)
        case .features: m.features = try readFeatures(&s, key)
        case .context: m.context = try readFeatures(&s, key)
        case .diversity: try readDiversity(&s, &m)
        case .groupBy: m.query.rerank.groupBy = try Self.string(&s, key)
        case .maxPerGroup: m.query.rerank.maxPerGroup = try Self.integer(&s, key, 1...limits.maximumK)
        case .boost: m.query.rerank.boosts = try readBoosts(&s)
        case .term: m.term = try Self.id(&s, key)
        case .position: m.position = try readPosition(&s, key)
        case .records, .data: m.bytes = try readBytes(&s, key)
        case .part:
            let name = try Self.string(&s, key)
            guard let part = Request.Install.Part(rawValue: name) else {
                throw ProtocolError(.invalidRequest, "'part' must be \(Request.Install.Part.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or "))")
            }
            m.part = part
        case .offset: m.offset = try Self.integer(&s, key, 0...(1 << 50))
        }
    }
}
