import Foundation
import ShortlistCore
import ShortlistFeatures
import ShortlistIndex

/// Writes requests as protocol lines (`docs/protocol.md`): the inverse of `RequestParser`, so
/// no client builds protocol JSON by hand. Members at their defaults are left out.
public struct RequestEncoder: Sendable {
    /// How vectors go on the wire.
    public enum VectorEncoding: String, Sendable, CaseIterable {
        /// A JSON string of base64 little-endian float32 (`Base64Vector`): exact, compact, fast.
        case base64
        /// JSON arrays of decimal numbers (shortest round-trip form).
        case decimal
    }

    public var vectorEncoding: VectorEncoding

    public init(vectorEncoding: VectorEncoding = .base64) { self.vectorEncoding = vectorEncoding }

    /// The line for `line`, with its newline. `op` comes first (then `id`), so a server reads
    /// both without parsing the rest.
    public func encode(_ line: RequestLine) -> [UInt8] {
        var o = JSONOutput(capacity: 256)
        o.raw("{")
        o.key("op"); o.string(line.request.op.rawValue)
        if let id = line.id { o.raw(","); o.key("id"); o.raw(id) }
        members(line.request, into: &o)
        o.raw("}\n")
        return o.bytes
    }

    /// The line of `request` after an id that the caller writes itself (`{"id":N,`): its `"op":…`
    /// members, closing brace and newline. A load generator encodes each request once this way.
    public func encodeAfterId(_ request: Request) -> [UInt8] {
        var o = JSONOutput(capacity: 256)
        o.key("op"); o.string(request.op.rawValue)
        members(request, into: &o)
        o.raw("}\n")
        return o.bytes
    }

    /// The members of `request` after `op` and `id`, each preceded by a comma: `,"collection":…`.
    /// With `encode`, and for callers that put their own `id` in front (a load generator).
    public func members(_ request: Request, into o: inout JSONOutput) {
        switch request {
        case .ping, .info, .stats: break
        case let .auth(token): o.raw(","); o.key("token"); o.string(token)
        case let .search(r):
            collection(r.collection, &o)
            o.raw(","); o.key("vector"); vector(r.vector, &o)
            query(r.query, &o)
        case let .searchBatch(r):
            collection(r.collection, &o)
            o.raw(","); o.key("vectors"); o.raw("[")
            let length = r.count > 0 ? r.vectors.count / r.count : 0
            for i in 0..<r.count {
                if i > 0 { o.comma() }
                vector(Array(r.vectors[(i * length)..<((i + 1) * length)]), &o)
            }
            o.raw("]")
            query(r.query, &o)
        case let .similar(r):
            collection(r.collection, &o)
            o.raw(","); o.key("item_id"); o.uint(r.itemId)
            query(r.query, &o)
        case let .recommend(r):
            collection(r.collection, &o)
            if let user = r.userId { o.raw(","); o.key("user_id"); o.uint(user) }
            if !r.history.isEmpty { o.raw(","); o.key("history"); ids(r.history, &o) }
            if !r.features.isEmpty { o.raw(","); o.key("features"); features(r.features, &o) }
            if !r.context.isEmpty { o.raw(","); o.key("context"); features(r.context, &o) }
            if r.excludeSeen { o.raw(","); o.key("exclude_seen"); o.bool(true) }
            query(r.query, &o)
        case let .upsert(name, points):
            collection(name, &o)
            o.raw(","); o.key("points"); o.raw("[")
            for (i, p) in points.enumerated() {
                if i > 0 { o.comma() }
                o.raw("{"); o.key("id"); o.uint(p.id)
                if let f = p.features { o.raw(","); o.key("features"); features(f, &o) } else { o.raw(","); o.key("vector"); vector(p.vector, &o) }
                if let payload = p.payload { o.raw(","); o.key("payload"); o.raw(payload) }
                o.raw("}")
            }
            o.raw("]")
        case let .delete(name, list), let .get(name, list):
            collection(name, &o)
            o.raw(","); o.key("ids"); ids(list, &o)
        case let .save(name):
            if let name { collection(name, &o) }
        case let .replicate(r):
            collection(r.collection, &o)
            o.raw(","); o.key("term"); o.uint(r.term)
            if let p = r.position { position(p, &o) }
            if !r.records.isEmpty { o.raw(","); o.key("records"); o.string(Data(r.records).base64EncodedString()) }
        case let .install(r):
            collection(r.collection, &o)
            o.raw(","); o.key("term"); o.uint(r.term)
            if let p = r.position {
                position(p, &o)
            } else {
                o.raw(","); o.key("part"); o.string((r.part ?? .index).rawValue)
                o.raw(","); o.key("offset"); o.uint(UInt64(r.offset))
                o.raw(","); o.key("data"); o.string(Data(r.data).base64EncodedString())
            }
        }
    }

    private func position(_ p: LogPosition, _ o: inout JSONOutput) {
        o.raw(","); o.key("position"); o.raw("{"); o.key("term"); o.uint(p.term); o.raw(","); o.key("lsn"); o.uint(p.lsn); o.raw("}")
    }

    private func collection(_ name: String, _ o: inout JSONOutput) {
        o.raw(","); o.key("collection"); o.string(name)
    }

    private func vector(_ v: [Float], _ o: inout JSONOutput) {
        switch vectorEncoding {
        case .base64: o.string(Base64Vector.encode(v))
        case .decimal: o.floats(v)
        }
    }

    private func ids(_ list: [UInt64], _ o: inout JSONOutput) {
        o.raw("[")
        for (i, id) in list.enumerated() {
            if i > 0 { o.comma() }
            o.uint(id)
        }
        o.raw("]")
    }

    private func features(_ values: [String: FeatureValue], _ o: inout JSONOutput) {
        o.raw("{")
        for (i, (name, value)) in values.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { o.comma() }
            o.string(name); o.raw(":")
            switch value {
            case let .text(s): o.string(s)
            case let .number(d): o.double(d)
            case let .list(l):
                o.raw("[")
                for (j, s) in l.enumerated() {
                    if j > 0 { o.comma() }
                    o.string(s)
                }
                o.raw("]")
            }
        }
        o.raw("}")
    }

    private func query(_ q: QueryOptions, _ o: inout JSONOutput) {
        let defaults = QueryOptions()
        if q.k != defaults.k { o.raw(","); o.key("k"); o.int(q.k) }
        let p = q.parameters
        if p.ef != nil || p.nprobe != nil || p.rerank != nil || q.targetRecall != nil {
            o.raw(","); o.key("params"); o.raw("{")
            var m = MemberList()
            if let ef = p.ef { m.next("ef", &o); o.int(ef) }
            if let nprobe = p.nprobe { m.next("nprobe", &o); o.int(nprobe) }
            if let rerank = p.rerank { m.next("rerank", &o); o.int(rerank) }
            if let recall = q.targetRecall { m.next("target_recall", &o); o.double(recall) }
            o.raw("}")
        }
        if !q.excludeIds.isEmpty || q.includeIds != nil || q.payloadFilter != nil {
            o.raw(","); o.key("filter"); o.raw("{")
            var m = MemberList()
            if !q.excludeIds.isEmpty { m.next("exclude_ids", &o); ids(q.excludeIds, &o) }
            if let include = q.includeIds { m.next("include_ids", &o); ids(include, &o) }
            if case let .group(must, should, mustNot)? = q.payloadFilter {
                group(must: must, should: should, mustNot: mustNot, into: &o, members: &m, keepEmpty: false)
            } else if let condition = q.payloadFilter {
                m.next("must", &o); conditions([condition], &o)
            }
            o.raw("}")
        }
        if q.withPayload { o.raw(","); o.key("with_payload"); o.bool(true) }
        let r = q.rerank
        if let lambda = r.lambda {
            o.raw(","); o.key("diversity"); o.raw("{"); o.key("lambda"); o.float(lambda)
            if let candidates = r.candidates { o.raw(","); o.key("candidates"); o.int(candidates) }
            o.raw("}")
        }
        if let field = r.groupBy, let most = r.maxPerGroup {
            o.raw(","); o.key("group_by"); o.string(field)
            o.raw(","); o.key("max_per_group"); o.int(most)
        }
        if !r.boosts.isEmpty {
            o.raw(","); o.key("boost"); o.raw("{")
            for (i, (field, values)) in r.boosts.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { o.comma() }
                o.string(field); o.raw(":{")
                for (j, (value, weight)) in values.sorted(by: { $0.key < $1.key }).enumerated() {
                    if j > 0 { o.comma() }
                    o.string(value); o.raw(":"); o.float(weight)
                }
                o.raw("}")
            }
            o.raw("}")
        }
    }

    private func conditions(_ list: [PayloadFilter], _ o: inout JSONOutput) {
        o.raw("[")
        for (i, c) in list.enumerated() {
            if i > 0 { o.comma() }
            condition(c, &o)
        }
        o.raw("]")
    }

    private func condition(_ c: PayloadFilter, _ o: inout JSONOutput) {
        switch c {
        case let .group(must, should, mustNot):
            o.raw("{")
            var m = MemberList()
            group(must: must, should: should, mustNot: mustNot, into: &o, members: &m, keepEmpty: true)
            o.raw("}")
        case let .match(field, values):
            o.raw("{"); o.key("key"); o.string(field); o.raw(","); o.key("match")
            if values.count == 1 {
                o.raw("{"); o.key("value"); value(values[0], &o); o.raw("}")
            } else {
                o.raw("{"); o.key("any"); o.raw("[")
                for (i, v) in values.enumerated() {
                    if i > 0 { o.comma() }
                    value(v, &o)
                }
                o.raw("]}")
            }
            o.raw("}")
        case let .range(field, gt, gte, lt, lte):
            o.raw("{"); o.key("key"); o.string(field); o.raw(","); o.key("range"); o.raw("{")
            var m = MemberList()
            let bounds: [(StaticString, Double?)] = [("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)]
            for (key, bound) in bounds {
                guard let bound else { continue }
                m.next(key, &o)
                o.double(bound)
            }
            o.raw("}}")
        case let .isNull(field):
            o.raw("{"); o.key("is_null"); o.raw("{"); o.key("key"); o.string(field); o.raw("}}")
        case let .hasId(set):
            o.raw("{"); o.key("has_id"); ids(set.sorted(), &o); o.raw("}")
        }
    }

    /// `"must":[…]`, `"should":[…]`, `"must_not":[…]` for the lists that are not empty; with
    /// `keepEmpty`, an all-empty group is written as `"must":[]` (a condition needs a member).
    private func group(must: [PayloadFilter], should: [PayloadFilter], mustNot: [PayloadFilter], into o: inout JSONOutput,
                       members m: inout MemberList, keepEmpty: Bool) {
        let lists: [(StaticString, [PayloadFilter])] = [("must", must), ("should", should), ("must_not", mustNot)]
        for (key, list) in lists where !list.isEmpty {
            m.next(key, &o)
            conditions(list, &o)
        }
        if keepEmpty && must.isEmpty && should.isEmpty && mustNot.isEmpty {
            m.next("must", &o)
            o.raw("[]")
        }
    }

    /// The members of one JSON object, written one after another with the commas between them.
    private struct MemberList {
        private var first = true

        mutating func next(_ key: StaticString, _ o: inout JSONOutput) {
            if !first { o.comma() }
            first = false
            o.key(key)
        }
    }

    private func value(_ v: PayloadValue, _ o: inout JSONOutput) {
        switch v {
        case let .string(s): o.string(s)
        case let .number(d): o.double(d)
        case let .bool(b): o.bool(b)
        }
    }
}
