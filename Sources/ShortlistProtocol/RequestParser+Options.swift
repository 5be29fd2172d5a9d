import ShortlistCore
import ShortlistFeatures
import ShortlistIndex

/// Readers of the structured members: params, filter, diversity, boost, points.
extension RequestParser {
    /// `diversity`: {"lambda": 0…1, "candidates": 1…max_k}; lambda is required.
    func readDiversity(_ s: inout JSONScanner, _ r: inout Members) throws {
        var lambda: Float?
        try Self.readMembers(&s, of: "diversity") { s, key in
            switch key {
            case "lambda":
                guard Self.isNumberStart(Self.kind(&s)) else { throw ProtocolError(.invalidRequest, "'diversity.lambda' must be a number") }
                let v = try s.readDouble()
                guard v >= 0, v <= 1 else { throw ProtocolError(.invalidParameter, "'diversity.lambda' must be in [0, 1], not \(v)") }
                lambda = Float(v)
            case "candidates": r.query.rerank.candidates = try Self.integer(&s, "diversity.candidates", 1...limits.maximumK)
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member 'diversity.\(key)'; diversity has lambda, candidates")
            }
        }
        guard let lambda else { throw ProtocolError(.invalidRequest, "'diversity' needs 'lambda'") }
        r.query.rerank.lambda = lambda
    }

    /// `boost`: {"field": {"value": number, …}, …}, at most 64 fields of 64 values.
    func readBoosts(_ s: inout JSONScanner) throws -> [String: [String: Float]] {
        var out: [String: [String: Float]] = [:]
        try Self.readMembers(&s, of: "boost") { s, field in
            guard out.count < Self.maximumFeatureMembers else {
                try s.skipValue()
                throw ProtocolError(.tooLarge, "'boost' has more than \(Self.maximumFeatureMembers) fields")
            }
            var values: [String: Float] = [:]
            try Self.readMembers(&s, of: "boost.\(field)") { s, value in
                guard values.count < Self.maximumFeatureMembers else {
                    try s.skipValue()
                    throw ProtocolError(.tooLarge, "'boost.\(field)' has more than \(Self.maximumFeatureMembers) values")
                }
                guard Self.isNumberStart(Self.kind(&s)) else { throw ProtocolError(.invalidRequest, "'boost.\(field).\(value)' must be a number") }
                let v = Float(try s.readDouble())
                guard v.isFinite else { throw ProtocolError(.invalidParameter, "'boost.\(field).\(value)' is not a finite Float32") }
                values[value] = v
            }
            out[field] = values
        }
        return out
    }

    func readParameters(_ s: inout JSONScanner, _ r: inout Members) throws {
        try Self.readMembers(&s, of: "params") { s, key in
            switch key {
            case "ef": r.query.parameters.ef = try Self.integer(&s, "params.ef", 1...limits.maximumEf)
            case "nprobe": r.query.parameters.nprobe = try Self.integer(&s, "params.nprobe", 1...limits.maximumNprobe)
            case "rerank": r.query.parameters.rerank = try Self.integer(&s, "params.rerank", 1...SearchLimits.maximumRerank)
            case "target_recall":
                guard Self.isNumberStart(Self.kind(&s)) else { throw ProtocolError(.invalidRequest, "'params.target_recall' must be a number") }
                let v = try s.readDouble()
                guard v > 0, v <= 1 else { throw ProtocolError(.invalidParameter, "'params.target_recall' must be in (0, 1], not \(v)") }
                r.query.targetRecall = v
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member 'params.\(key)'; params are ef, nprobe, rerank, target_recall")
            }
        }
    }

    func readFilter(_ s: inout JSONScanner, _ r: inout Members) throws {
        var must: [PayloadFilter] = [], should: [PayloadFilter] = [], mustNot: [PayloadFilter] = []
        var grouped = false
        var conditions = 0
        try Self.readMembers(&s, of: "filter") { s, key in
            switch key {
            case "exclude_ids": r.query.excludeIds = try readIds(&s, "filter.exclude_ids")
            case "include_ids": r.query.includeIds = try readIds(&s, "filter.include_ids")
            case "must", "should", "must_not":
                grouped = true
                let list = try readConditions(&s, "filter.\(key)", depth: 1, total: &conditions)
                if key == "must" { must = list } else if key == "should" { should = list } else { mustNot = list }
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member 'filter.\(key)'; filters are must, should, must_not, exclude_ids, include_ids")
            }
        }
        if grouped { r.query.payloadFilter = .group(must: must, should: should, mustNot: mustNot) }
    }

    /// Conditions in one filter, all told (each costs a pass over a field index or the
    /// candidate set, so the bound keeps a request's work bounded); groups nest at most this deep.
    static let maximumConditions = 128
    static let maximumFilterDepth = 8

    /// An array of conditions (`must`, `should`, `must_not`). A bad condition throws after the
    /// array has been skipped, so the rest of the request is still read.
    func readConditions(_ s: inout JSONScanner, _ name: String, depth: Int, total: inout Int) throws -> [PayloadFilter] {
        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an array of conditions") }
        let start = s.position
        var out: [PayloadFilter] = []
        do {
            try s.readArray { s in
                total += 1
                guard total <= Self.maximumConditions else {
                    throw ProtocolError(.tooLarge, "'filter' holds more than \(Self.maximumConditions) conditions")
                }
                out.append(try readCondition(&s, "\(name)[\(out.count)]", depth: depth, total: &total))
            }
        } catch let e as ProtocolError {
            s.position = start
            try s.skipValue()
            throw e
        }
        return out
    }

    /// One condition: {"key":F,"match":{"value":V}|{"any":[V…]}}, {"key":F,"range":{…}},
    /// {"is_null":{"key":F}}, {"has_id":[ids]}, or a nested {"must":[…],"should":[…],"must_not":[…]}.
    func readCondition(_ s: inout JSONScanner, _ name: String, depth: Int, total: inout Int) throws -> PayloadFilter {
        guard Self.kind(&s) == UInt8(ascii: "{") else { throw ProtocolError(.invalidRequest, "'\(name)' must be a condition object") }
        guard depth <= Self.maximumFilterDepth else { throw ProtocolError(.tooLarge, "'\(name)': groups nest more than \(Self.maximumFilterDepth) deep") }
        var key: String?
        var match: [PayloadValue]?
        var range: (gt: Double?, gte: Double?, lt: Double?, lte: Double?)?
        var isNull: String?
        var hasId: Set<UInt64>?
        var must: [PayloadFilter]?, should: [PayloadFilter]?, mustNot: [PayloadFilter]?
        var seen = Set<String>()
        try s.readObject { s, member in
            guard seen.insert(member).inserted else { throw ProtocolError(.invalidRequest, "member '\(name).\(member)' appears twice") }
            switch member {
            case "key": key = try Self.string(&s, "\(name).key")
            case "match":
                guard Self.kind(&s) == UInt8(ascii: "{") else { throw ProtocolError(.invalidRequest, "'\(name).match' must be {\"value\":…} or {\"any\":[…]}") }
                try s.readObject { s, m in
                    switch m {
                    case "value": match = [try Self.payloadValue(&s, "\(name).match.value")]
                    case "any":
                        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'\(name).match.any' must be an array") }
                        var list: [PayloadValue] = []
                        try s.readArray(limit: limits.maximumItems) { s in list.append(try Self.payloadValue(&s, "\(name).match.any")) }
                        match = list
                    default: throw ProtocolError(.unknownField, "unknown member '\(name).match.\(m)'; match has value or any")
                    }
                }
                guard match != nil else { throw ProtocolError(.invalidRequest, "'\(name).match' needs 'value' or 'any'") }
            case "range":
                guard Self.kind(&s) == UInt8(ascii: "{") else { throw ProtocolError(.invalidRequest, "'\(name).range' must be an object of gt, gte, lt, lte") }
                var r: (gt: Double?, gte: Double?, lt: Double?, lte: Double?) = (nil, nil, nil, nil)
                try s.readObject { s, bound in
                    guard Self.isNumberStart(Self.kind(&s)) else { throw ProtocolError(.invalidRequest, "'\(name).range.\(bound)' must be a number") }
                    let v = try s.readDouble()
                    guard v.isFinite else { throw ProtocolError(.invalidParameter, "'\(name).range.\(bound)' is not finite") }
                    switch bound {
                    case "gt": r.gt = v
                    case "gte": r.gte = v
                    case "lt": r.lt = v
                    case "lte": r.lte = v
                    default: throw ProtocolError(.unknownField, "unknown member '\(name).range.\(bound)'; range has gt, gte, lt, lte")
                    }
                }
                guard r.gt != nil || r.gte != nil || r.lt != nil || r.lte != nil else { throw ProtocolError(.invalidRequest, "'\(name).range' needs a bound") }
                range = r
            case "is_null":
                guard Self.kind(&s) == UInt8(ascii: "{") else { throw ProtocolError(.invalidRequest, "'\(name).is_null' must be {\"key\":…}") }
                try s.readObject { s, m in
                    guard m == "key" else { throw ProtocolError(.unknownField, "unknown member '\(name).is_null.\(m)'; is_null has key") }
                    isNull = try Self.string(&s, "\(name).is_null.key")
                }
                guard isNull != nil else { throw ProtocolError(.invalidRequest, "'\(name).is_null' needs 'key'") }
            case "has_id": hasId = Set(try readIds(&s, "\(name).has_id"))
            case "must": must = try readConditions(&s, "\(name).must", depth: depth + 1, total: &total)
            case "should": should = try readConditions(&s, "\(name).should", depth: depth + 1, total: &total)
            case "must_not": mustNot = try readConditions(&s, "\(name).must_not", depth: depth + 1, total: &total)
            default:
                throw ProtocolError(.unknownField, "unknown member '\(name).\(member)'; a condition is key with match or range, is_null, has_id, or a group of must, should, must_not")
            }
        }
        let kinds = [match != nil || range != nil, isNull != nil, hasId != nil, must != nil || should != nil || mustNot != nil].filter { $0 }.count
        guard kinds == 1, !(match != nil && range != nil) else {
            throw ProtocolError(.invalidRequest, "'\(name)' must be exactly one condition: key with match or range, is_null, has_id, or a group")
        }
        if let match {
            guard let key else { throw ProtocolError(.invalidRequest, "'\(name)': match needs 'key'") }
            return .match(field: key, values: match)
        }
        if let range {
            guard let key else { throw ProtocolError(.invalidRequest, "'\(name)': range needs 'key'") }
            return .range(field: key, gt: range.gt, gte: range.gte, lt: range.lt, lte: range.lte)
        }
        guard key == nil else { throw ProtocolError(.invalidRequest, "'\(name)': 'key' goes with match or range") }
        if let isNull { return .isNull(field: isNull) }
        if let hasId { return .hasId(hasId) }
        return .group(must: must ?? [], should: should ?? [], mustNot: mustNot ?? [])
    }

    func readPoints(_ s: inout JSONScanner, _ r: inout Members) throws {
        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'points' must be an array of objects") }
        var bad: ProtocolError?
        var index = 0
        let start = s.position
        do {
            try s.readArray(limit: limits.maximumItems) { s in
                defer { index += 1 }
                guard Self.kind(&s) == UInt8(ascii: "{") else {
                    if bad == nil { bad = ProtocolError(.invalidRequest, "points[\(index)] must be an object") }
                    try s.skipValue()
                    return
                }
                var id: UInt64?, vector: [Float]?, payload: [UInt8]?, features: [String: FeatureValue]?
                do {
                    try Self.readMembers(&s, of: "points[\(index)]") { s, key in
                        switch key {
                        case "id": id = try Self.id(&s, "points[\(index)].id")
                        case "vector": vector = try readVector(&s, "points[\(index)].vector")
                        case "features": features = try readFeatures(&s, "points[\(index)].features")
                        case "payload":
                            payload = try s.readRawValue()
                            if payload == Array("null".utf8) { payload = nil }
                        default:
                            try s.skipValue()
                            throw ProtocolError(.unknownField, "unknown member 'points[\(index)].\(key)'; a point has id, vector (or features), payload")
                        }
                    }
                } catch let e as ProtocolError {
                    if bad == nil { bad = e }
                    return
                }
                guard let id, (vector == nil) != (features == nil) else {
                    if bad == nil { bad = ProtocolError(.invalidRequest, "points[\(index)] needs 'id' and one of 'vector' and 'features'") }
                    return
                }
                r.points.append(Request.Point(id: id, vector: vector ?? [], features: features, payload: payload))
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'points' holds more than \(limits.maximumItems) points")
        }
        if let bad { throw bad }
    }
}
