import ShortlistCore

/// One reply line read back: the request's `id` as sent (raw JSON) and either the `result`
/// (raw JSON, decoded by the typed readers below) or the error.
public struct Reply: Sendable {
    public var id: [UInt8]?
    public var outcome: Result<[UInt8], ProtocolError>

    /// Reads a reply line (without its newline). A line that is not a reply throws
    /// `ProtocolError(.parseError)`.
    public init(line: UnsafeBufferPointer<UInt8>) throws {
        var s = JSONScanner(line)
        var id: [UInt8]?, ok: Bool?, result: [UInt8]?, error: ProtocolError?
        do {
            try s.readObject { s, key in
                switch key {
                case "id":
                    let raw = try s.readRawValue()
                    id = raw == Array("null".utf8) ? nil : raw
                case "ok": ok = try s.readBool()
                case "result": result = try s.readRawValue()
                case "error":
                    var code = ProtocolError.Code.internalError, message = ""
                    try s.readObject { s, key in
                        switch key {
                        case "code": code = ProtocolError.Code(rawValue: try s.readString()) ?? .internalError
                        case "message": message = try s.readString()
                        default: try s.skipValue()
                        }
                    }
                    error = ProtocolError(code, message)
                default: try s.skipValue()
                }
            }
            guard s.isAtEnd() else { throw ProtocolError(.parseError, "text after the reply object") }
        } catch let e as JSONError {
            throw ProtocolError(.parseError, "not a reply line: \(e)")
        }
        switch (ok, result, error) {
        case let (true?, result?, _): outcome = .success(result)
        case let (false?, _, error?): outcome = .failure(error)
        default: throw ProtocolError(.parseError, "a reply has \"ok\" with \"result\" or \"error\"")
        }
        self.id = id
    }

    /// The result, or the error the server sent.
    public func result() throws -> [UInt8] { try outcome.get() }
}

/// One hit of `search`, `similar` or `recommend`: an item id, its score (higher is better) and
/// its payload's JSON text when asked for.
public struct Hit: Equatable, Sendable {
    public var id: UInt64
    public var score: Float
    public var payload: [UInt8]?

    public init(id: UInt64, score: Float, payload: [UInt8]? = nil) {
        self.id = id
        self.score = score
        self.payload = payload
    }
}

/// The result of `search`, `similar` or `recommend`.
public struct SearchResult: Equatable, Sendable {
    public var hits: [Hit]
    /// Server-side time of the request in microseconds (`took_us`).
    public var tookMicroseconds: UInt64
}

/// The result of `search_batch`: one hit list per query vector.
public struct BatchResult: Equatable, Sendable {
    public var results: [[Hit]]
    public var tookMicroseconds: UInt64
}

/// The result of `upsert` and `delete`.
public struct WriteResult: Equatable, Sendable {
    /// Points written (`upserted`) or removed (`deleted`).
    public var changed: Int
    /// `delete`: ids that were not there.
    public var notFound: [UInt64]
    /// Points in the collection afterwards.
    public var count: Int
}

/// A stored point returned by `get`.
public struct StoredPoint: Equatable, Sendable {
    public var id: UInt64
    public var vector: [Float]
    public var payload: [UInt8]?

    public init(id: UInt64, vector: [Float], payload: [UInt8]?) {
        self.id = id
        self.vector = vector
        self.payload = payload
    }
}

/// Typed readers of results (the shapes `docs/protocol.md` gives).
public enum ResultDecoder {
    public static func search(_ json: [UInt8]) throws -> SearchResult {
        var hits: [Hit] = [], took: UInt64 = 0
        try members(json) { s, key in
            switch key {
            case "hits": hits = try hitArray(&s)
            case "took_us": took = try s.readUInt64()
            default: try s.skipValue()
            }
        }
        return SearchResult(hits: hits, tookMicroseconds: took)
    }

    public static func batch(_ json: [UInt8]) throws -> BatchResult {
        var results: [[Hit]] = [], took: UInt64 = 0
        try members(json) { s, key in
            switch key {
            case "results": try s.readArray { s in results.append(try hitArray(&s)) }
            case "took_us": took = try s.readUInt64()
            default: try s.skipValue()
            }
        }
        return BatchResult(results: results, tookMicroseconds: took)
    }

    public static func write(_ json: [UInt8]) throws -> WriteResult {
        var r = WriteResult(changed: 0, notFound: [], count: 0)
        try members(json) { s, key in
            switch key {
            case "upserted", "deleted": r.changed = Int(try s.readUInt64())
            case "count": r.count = Int(try s.readUInt64())
            case "not_found": try s.readArray { s in r.notFound.append(try s.readUInt64()) }
            default: try s.skipValue()
            }
        }
        return r
    }

    /// `get`: the points found, and the ids that were not.
    public static func points(_ json: [UInt8]) throws -> (points: [StoredPoint], notFound: [UInt64]) {
        var points: [StoredPoint] = [], notFound: [UInt64] = []
        try members(json) { s, key in
            switch key {
            case "points":
                try s.readArray { s in
                    var p = StoredPoint(id: 0, vector: [], payload: nil)
                    try s.readObject { s, key in
                        switch key {
                        case "id": p.id = try s.readUInt64()
                        case "vector": try s.readFloatArray(into: &p.vector, limit: .max)
                        case "payload":
                            let raw = try s.readRawValue()
                            p.payload = raw == Array("null".utf8) ? nil : raw
                        default: try s.skipValue()
                        }
                    }
                    points.append(p)
                }
            case "not_found": try s.readArray { s in notFound.append(try s.readUInt64()) }
            default: try s.skipValue()
            }
        }
        return (points, notFound)
    }

    /// `replicate` and `install`: whether records were taken (`accepted`, true when absent), the
    /// log's position afterwards, and an install part's `received` bytes.
    public static func replication(_ json: [UInt8]) throws -> (accepted: Bool, position: LogPosition?, received: Int) {
        var accepted = true, position: LogPosition?, received = 0
        try members(json) { s, key in
            switch key {
            case "accepted": accepted = try s.readBool()
            case "received": received = Int(try s.readUInt64())
            case "position":
                var p = LogPosition.zero
                try s.readObject { s, key in
                    switch key {
                    case "term": p.term = try s.readUInt64()
                    case "lsn": p.lsn = try s.readUInt64()
                    default: try s.skipValue()
                    }
                }
                position = p
            default: try s.skipValue()
            }
        }
        return (accepted, position, received)
    }

    private static func hitArray(_ s: inout JSONScanner) throws -> [Hit] {
        var hits: [Hit] = []
        try s.readArray { s in
            var h = Hit(id: 0, score: 0)
            try s.readObject { s, key in
                switch key {
                case "id": h.id = try s.readUInt64()
                case "score": h.score = try s.readFloat()
                case "payload": h.payload = try s.readRawValue()
                default: try s.skipValue()
                }
            }
            hits.append(h)
        }
        return hits
    }

    private static func members(_ json: [UInt8], _ body: (inout JSONScanner, String) throws -> Void) throws {
        do {
            try json.withUnsafeBufferPointer { b in
                var s = JSONScanner(b)
                try s.readObject(body)
            }
        } catch let e as JSONError {
            throw ProtocolError(.parseError, "unexpected result: \(e)")
        }
    }
}
