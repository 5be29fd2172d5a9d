import ShortlistCore
import ShortlistFeatures
import ShortlistIndex

/// Reads one request line with `JSONScanner` (no Foundation on the hot path: ~4 µs for a
/// 128-float search against ~100 µs for `JSONDecoder`, docs/performance.md §6).
///
/// Malformed JSON stops the parse (`parse_error`). A well-formed line with a bad member (wrong
/// type, out of range, unknown) is read to the end anyway, so the error reply can still echo the
/// request's `id`; the first such problem is reported.
struct RequestParser {
    let limits: ServerLimits

    /// The outcome of parsing a line: the request, or the error to reply with and the `id` if it was read.
    enum Outcome {
        case request(Request)
        case failure(id: [UInt8]?, error: ProtocolError)
    }

    /// Every top-level member name; a request's members are tracked as a bit mask of these.
    static let memberNames = ["id", "op", "collection", "vector", "vectors", "k", "params", "filter", "with_payload",
                              "exclude_seen", "item_id", "user_id", "ids", "points", "token", "history", "features", "context", "diversity", "group_by", "max_per_group", "boost"]

    /// The bit of a member name (a switch: no hashing on the hot path), or nil for an unknown name.
    static func memberBit(_ key: String) -> UInt32? {
        switch key {
        case "id": return 1 << 0
        case "op": return 1 << 1
        case "collection": return 1 << 2
        case "vector": return 1 << 3
        case "vectors": return 1 << 4
        case "k": return 1 << 5
        case "params": return 1 << 6
        case "filter": return 1 << 7
        case "with_payload": return 1 << 8
        case "exclude_seen": return 1 << 9
        case "item_id": return 1 << 10
        case "user_id": return 1 << 11
        case "ids": return 1 << 12
        case "points": return 1 << 13
        case "token": return 1 << 14
        case "history": return 1 << 15
        case "features": return 1 << 16
        case "context": return 1 << 17
        case "diversity": return 1 << 18
        case "group_by": return 1 << 19
        case "max_per_group": return 1 << 20
        case "boost": return 1 << 21
        default: return nil
        }
    }

    static func mask(_ names: some Sequence<String>) -> UInt32 { names.reduce(0) { $0 | memberBit($1)! } }

    /// Per op: the members it takes (with id and op) and the ones it needs.
    static let allowedMasks: [Request.Op: UInt32] = Dictionary(uniqueKeysWithValues: Request.Op.allCases.map { ($0, mask($0.fields) | 3) })
    static let requiredMasks: [Request.Op: UInt32] = Dictionary(uniqueKeysWithValues: Request.Op.allCases.map { ($0, mask($0.required)) })

    func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
        var s = JSONScanner(bytes)
        s.maximumDepth = 32
        var request = Request(op: .ping)
        var op: String?
        var seen: UInt32 = 0
        var problem: ProtocolError?
        func note(_ e: ProtocolError) { if problem == nil { problem = e } }
        do {
            guard s.peek() == UInt8(ascii: "{") else {
                throw ProtocolError(.parseError, "a request is one JSON object per line")
            }
            try s.readObject { s, key in
                if let bit = Self.memberBit(key) {
                    guard seen & bit == 0 else {
                        note(ProtocolError(.invalidRequest, "member '\(key)' appears twice"))
                        try s.skipValue()
                        return
                    }
                    seen |= bit
                }
                do {
                    try readMember(key, &s, &request, &op)
                } catch let e as ProtocolError {
                    note(e)
                    // Skip the rest of a value a member reader gave up on (its start was not consumed).
                    if e.code != .parseError { try Self.skipRest(&s) }
                }
            }
            guard s.isAtEnd() else { throw ProtocolError(.parseError, "text after the request object at byte \(s.position)") }
        } catch let e as ProtocolError {
            return .failure(id: request.id, error: e)
        } catch {
            return .failure(id: request.id, error: ProtocolError(.parseError, "\(error)"))
        }
        if let problem { return .failure(id: request.id, error: problem) }
        guard let op else { return .failure(id: request.id, error: ProtocolError(.invalidRequest, "missing member 'op'")) }
        guard let parsedOp = Request.Op(rawValue: op) else {
            let known = Request.Op.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(id: request.id, error: ProtocolError(.unknownOp, "unknown op '\(op)'; ops are \(known)"))
        }
        request.op = parsedOp
        let extra = seen & ~Self.allowedMasks[parsedOp]!
        if extra != 0, let key = Self.memberNames.first(where: { Self.memberBit($0)! & extra != 0 }) {
            return .failure(id: request.id, error: ProtocolError(.unknownField, "op '\(op)' takes no member '\(key)'"))
        }
        if (request.rerank.groupBy == nil) != (request.rerank.maxPerGroup == nil) {
            return .failure(id: request.id, error: ProtocolError(.invalidRequest, "'group_by' and 'max_per_group' go together"))
        }
        let missing = Self.requiredMasks[parsedOp]! & ~seen
        if missing != 0, let key = parsedOp.required.first(where: { Self.memberBit($0)! & missing != 0 }) {
            return .failure(id: request.id, error: ProtocolError(.invalidRequest, "op '\(op)' needs member '\(key)'"))
        }
        return .request(request)
    }

    private struct Found: Error {}

    /// The op of a line, read without parsing the rest: top-level members are skipped until
    /// `op` (cheap when it comes first, as clients write it). Nil for a line that is not a
    /// well-formed object up to its `op`, or names no known op; the full parse reports why.
    static func sniffOp(_ bytes: UnsafeBufferPointer<UInt8>) -> Request.Op? {
        var s = JSONScanner(bytes)
        s.maximumDepth = 32
        guard s.peek() == UInt8(ascii: "{") else { return nil }
        var op: Request.Op?
        do {
            try s.readObject { s, key in
                guard key == "op" else { return try s.skipValue() }
                op = Request.Op(rawValue: try s.readString())
                throw Found()
            }
        } catch {}
        return op
    }

    /// After a member reader threw a `ProtocolError` mid-value, the scanner may sit inside that
    /// value; rewinding is not possible, so readers check types before consuming and this only
    /// has to skip a value that was not started.
    private static func skipRest(_ s: inout JSONScanner) throws {
        if let c = s.peek(), c != UInt8(ascii: ","), c != UInt8(ascii: "}"), c != UInt8(ascii: "]") { try s.skipValue() }
    }

    private func readMember(_ key: String, _ s: inout JSONScanner, _ r: inout Request, _ op: inout String?) throws {
        switch key {
        case "id": r.id = try s.readRawValue()
        case "op": op = try Self.string(&s, key)
        case "collection": r.collection = try Self.string(&s, key)
        case "token": r.token = try Self.string(&s, key)
        case "vector": r.vector = try readVector(&s, key)
        case "vectors": try readVectors(&s, &r)
        case "k": r.k = try Self.integer(&s, key, 1...limits.maximumK)
        case "params": try readParameters(&s, &r)
        case "filter": try readFilter(&s, &r)
        case "with_payload": r.withPayload = try Self.bool(&s, key)
        case "exclude_seen": r.excludeSeen = try Self.bool(&s, key)
        case "item_id": r.itemId = try Self.id(&s, key)
        case "user_id": r.userId = try Self.id(&s, key)
        case "ids": r.ids = try readIds(&s, key)
        case "points": try readPoints(&s, &r)
        case "history": r.history = try readIds(&s, key)
        case "features": r.features = try readFeatures(&s, key)
        case "context": r.context = try readFeatures(&s, key)
        case "diversity": try readDiversity(&s, &r)
        case "group_by": r.rerank.groupBy = try Self.string(&s, key)
        case "max_per_group": r.rerank.maxPerGroup = try Self.integer(&s, key, 1...limits.maximumK)
        case "boost": r.rerank.boosts = try readBoosts(&s)
        default:
            if Self.memberBit(key) != nil { try s.skipValue(); return }
            try s.skipValue()
            throw ProtocolError(.unknownField, "unknown member '\(key)'")
        }
    }

    // MARK: Typed readers (each checks the JSON type before consuming anything)

    private static func kind(_ s: inout JSONScanner) -> UInt8 { s.peek() ?? 0 }

    private static func isNumberStart(_ c: UInt8) -> Bool { c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) }

    static func string(_ s: inout JSONScanner, _ name: String) throws -> String {
        guard kind(&s) == UInt8(ascii: "\"") else { throw ProtocolError(.invalidRequest, "'\(name)' must be a string") }
        return try s.readString()
    }

    static func bool(_ s: inout JSONScanner, _ name: String) throws -> Bool {
        let c = kind(&s)
        guard c == UInt8(ascii: "t") || c == UInt8(ascii: "f") else { throw ProtocolError(.invalidRequest, "'\(name)' must be true or false") }
        return try s.readBool()
    }

    static func integer(_ s: inout JSONScanner, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
        guard isNumberStart(kind(&s)) else { throw ProtocolError(.invalidRequest, "'\(name)' must be an integer") }
        let d = try s.readDouble()
        guard d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
            throw ProtocolError(.invalidParameter, "'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound), not \(d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d))")
        }
        return Int(d)
    }

    static func id(_ s: inout JSONScanner, _ name: String) throws -> UInt64 {
        guard isNumberStart(kind(&s)) else { throw ProtocolError(.invalidRequest, "'\(name)' must be an unsigned 64-bit integer") }
        let start = s.position
        do {
            return try s.readUInt64()
        } catch is JSONError {
            // Negative, fractional, exponent or too large: valid JSON perhaps, but not an id.
            s.position = start
            try s.skipValue()
            throw ProtocolError(.invalidRequest, "'\(name)' must be an unsigned 64-bit integer")
        }
    }

    /// A vector: an array of numbers, or a string of base64 float32 (`Base64Vector`).
    func readVector(_ s: inout JSONScanner, _ name: String) throws -> [Float] {
        let kind = Self.kind(&s)
        if kind == UInt8(ascii: "\"") { return try Base64Vector.read(&s, name: name, limit: limits.maximumDimension) }
        guard kind == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an array of numbers or a base64 string of float32 values") }
        var out: [Float] = []
        out.reserveCapacity(512)
        let start = s.position
        if s.scanFloatArray(into: &out, limit: limits.maximumDimension) == .complete { return out }
        // Rewind and read element by element for a precise error.
        s.position = start
        out.removeAll(keepingCapacity: true)
        var bad: ProtocolError?
        do {
            try s.readArray(limit: limits.maximumDimension) { s in
                let c = s.peek() ?? 0
                guard Self.isNumberStart(c) else {
                    if bad == nil { bad = ProtocolError(.invalidRequest, "'\(name)' must hold only numbers (element \(out.count) is not one)") }
                    try s.skipValue()
                    out.append(0)
                    return
                }
                let numberStart = s.position
                let d = try s.readDouble()
                let f = Float(d)
                if !f.isFinite && bad == nil {
                    bad = ProtocolError(.invalidVector, "'\(name)' element \(out.count) (\(String(decoding: s.bytes[numberStart..<s.position], as: UTF8.self))) is not a finite Float32")
                }
                out.append(f)
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'\(name)' has more than \(limits.maximumDimension) components")
        }
        if let bad { throw bad }
        return out
    }

    private func readVectors(_ s: inout JSONScanner, _ r: inout Request) throws {
        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'vectors' must be an array of vectors (arrays of numbers or base64 strings)") }
        var all: [Float] = []
        var count = 0, length = -1
        var bad: ProtocolError?
        let start = s.position
        do {
            try s.readArray(limit: limits.maximumBatch) { s in
                do {
                    let v = try readVector(&s, "vectors[\(count)]")
                    if length < 0 { length = v.count }
                    if v.count != length && bad == nil {
                        bad = ProtocolError(.dimensionMismatch, "'vectors' rows differ in length (\(length) and \(v.count))")
                    }
                    all.append(contentsOf: v)
                } catch let e as ProtocolError {
                    if bad == nil { bad = e }
                    try Self.skipRest(&s)
                }
                count += 1
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'vectors' holds more than \(limits.maximumBatch) vectors (the server's batch limit)")
        }
        if let bad { throw bad }
        guard count > 0 else { throw ProtocolError(.invalidRequest, "'vectors' is empty") }
        r.vectors = all
        r.vectorCount = count
        r.vectorLength = length
    }

    func readIds(_ s: inout JSONScanner, _ name: String) throws -> [UInt64] {
        guard Self.kind(&s) == UInt8(ascii: "[") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an array of ids") }
        var out: [UInt64] = []
        var bad: ProtocolError?
        let start = s.position
        do {
            try s.readArray(limit: limits.maximumItems) { s in
                do { out.append(try Self.id(&s, name)) } catch let e as ProtocolError {
                    if bad == nil { bad = e }
                    try Self.skipRest(&s)
                }
            }
        } catch JSONError.tooManyElements {
            s.position = start
            try s.skipValue()
            throw ProtocolError(.tooLarge, "'\(name)' holds more than \(limits.maximumItems) ids")
        }
        if let bad { throw bad }
        return out
    }

    /// `diversity`: {"lambda": 0…1, "candidates": 1…max_k}; lambda is required.
    private func readDiversity(_ s: inout JSONScanner, _ r: inout Request) throws {
        var lambda: Float?
        try Self.readMembers(&s, of: "diversity") { s, key in
            switch key {
            case "lambda":
                guard Self.isNumberStart(Self.kind(&s)) else { throw ProtocolError(.invalidRequest, "'diversity.lambda' must be a number") }
                let v = try s.readDouble()
                guard v >= 0, v <= 1 else { throw ProtocolError(.invalidParameter, "'diversity.lambda' must be in [0, 1], not \(v)") }
                lambda = Float(v)
            case "candidates": r.rerank.candidates = try Self.integer(&s, "diversity.candidates", 1...limits.maximumK)
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member 'diversity.\(key)'; diversity has lambda, candidates")
            }
        }
        guard let lambda else { throw ProtocolError(.invalidRequest, "'diversity' needs 'lambda'") }
        r.rerank.lambda = lambda
    }

    /// `boost`: {"field": {"value": number, …}, …}, at most 64 fields of 64 values.
    private func readBoosts(_ s: inout JSONScanner) throws -> [String: [String: Float]] {
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

    /// Most members a `features` or `context` object may have.
    static let maximumFeatureMembers = 64

    /// A `features` / `context` object: name → string, number, boolean or list of strings
    /// (null members are left out).
    func readFeatures(_ s: inout JSONScanner, _ name: String) throws -> [String: FeatureValue] {
        var out: [String: FeatureValue] = [:]
        try Self.readMembers(&s, of: name) { s, key in
            guard out.count < Self.maximumFeatureMembers else {
                try s.skipValue()
                throw ProtocolError(.tooLarge, "'\(name)' has more than \(Self.maximumFeatureMembers) members")
            }
            let c = Self.kind(&s)
            guard c != UInt8(ascii: "{") else {
                try s.skipValue()
                throw ProtocolError(.invalidRequest, "'\(name).\(key)' must be a string, number, boolean or list of strings")
            }
            let start = s.position
            do {
                if let v = try FeatureValue.read(&s, name: "\(name).\(key)") { out[key] = v }
            } catch FeatureError.badSchema(let reason) {
                // Rewind, so the rest of the request is still read.
                s.position = start
                try s.skipValue()
                throw ProtocolError(.invalidRequest, reason + " (a value is a string, number, boolean or list of strings)")
            }
        }
        return out
    }

    /// Reads an object's members with `body`; a member's `ProtocolError` is kept (the first one
    /// is thrown at the end) and the rest of the object is still read, so the request's id can be.
    private static func readMembers(_ s: inout JSONScanner, of name: String, _ body: (inout JSONScanner, String) throws -> Void) throws {
        guard kind(&s) == UInt8(ascii: "{") else { throw ProtocolError(.invalidRequest, "'\(name)' must be an object") }
        var bad: ProtocolError?
        var seen: [String] = []
        try s.readObject { s, key in
            do {
                guard !seen.contains(key) else {
                    try s.skipValue()
                    throw ProtocolError(.invalidRequest, "member '\(name).\(key)' appears twice")
                }
                seen.append(key)
                try body(&s, key)
            } catch let e as ProtocolError {
                if bad == nil { bad = e }
                try skipRest(&s)
            }
        }
        if let bad { throw bad }
    }

    private func readParameters(_ s: inout JSONScanner, _ r: inout Request) throws {
        try Self.readMembers(&s, of: "params") { s, key in
            switch key {
            case "ef": r.parameters.ef = try Self.integer(&s, "params.ef", 1...limits.maximumEf)
            case "nprobe": r.parameters.nprobe = try Self.integer(&s, "params.nprobe", 1...limits.maximumNprobe)
            case "rerank": r.parameters.rerank = try Self.integer(&s, "params.rerank", 1...SearchLimits.maximumRerank)
            case "target_recall":
                guard Self.isNumberStart(Self.kind(&s)) else { throw ProtocolError(.invalidRequest, "'params.target_recall' must be a number") }
                let v = try s.readDouble()
                guard v > 0, v <= 1 else { throw ProtocolError(.invalidParameter, "'params.target_recall' must be in (0, 1], not \(v)") }
                r.targetRecall = v
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member 'params.\(key)'; params are ef, nprobe, rerank, target_recall")
            }
        }
    }

    private func readFilter(_ s: inout JSONScanner, _ r: inout Request) throws {
        var must: [PayloadFilter] = [], should: [PayloadFilter] = [], mustNot: [PayloadFilter] = []
        var grouped = false
        var conditions = 0
        try Self.readMembers(&s, of: "filter") { s, key in
            switch key {
            case "exclude_ids": r.excludeIds = try readIds(&s, "filter.exclude_ids")
            case "include_ids": r.includeIds = try readIds(&s, "filter.include_ids")
            case "must", "should", "must_not":
                grouped = true
                let list = try readConditions(&s, "filter.\(key)", depth: 1, total: &conditions)
                if key == "must" { must = list } else if key == "should" { should = list } else { mustNot = list }
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member 'filter.\(key)'; filters are must, should, must_not, exclude_ids, include_ids")
            }
        }
        if grouped { r.payloadFilter = .group(must: must, should: should, mustNot: mustNot) }
    }

    /// Conditions in one filter, all told (each costs a pass over a field index or the
    /// candidate set, so the bound keeps a request's work bounded); groups nest at most this deep.
    static let maximumConditions = 128
    static let maximumFilterDepth = 8

    /// An array of conditions (`must`, `should`, `must_not`). A bad condition throws after the
    /// array has been skipped, so the rest of the request is still read.
    private func readConditions(_ s: inout JSONScanner, _ name: String, depth: Int, total: inout Int) throws -> [PayloadFilter] {
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
    private func readCondition(_ s: inout JSONScanner, _ name: String, depth: Int, total: inout Int) throws -> PayloadFilter {
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

    /// A match value: a string, number or boolean.
    private static func payloadValue(_ s: inout JSONScanner, _ name: String) throws -> PayloadValue {
        let c = kind(&s)
        if c == UInt8(ascii: "\"") { return .string(try s.readString()) }
        if c == UInt8(ascii: "t") || c == UInt8(ascii: "f") { return .bool(try s.readBool()) }
        if isNumberStart(c) {
            let v = try s.readDouble()
            guard v.isFinite else { throw ProtocolError(.invalidParameter, "'\(name)' is not finite") }
            return .number(v)
        }
        throw ProtocolError(.invalidRequest, "'\(name)' must be a string, number or boolean")
    }

    private func readPoints(_ s: inout JSONScanner, _ r: inout Request) throws {
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
