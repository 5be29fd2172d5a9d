import ShortlistCore
import ShortlistProtocol

extension RequestProcessor {
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
        stats.record(op: op, nanoseconds: MonotonicClock.nanoseconds() &- start, error: nil)
        return o.bytes
    }

    func failure(id: [UInt8]?, op: Request.Op?, start: UInt64, _ error: ProtocolError) -> [UInt8] {
        stats.record(op: op, nanoseconds: MonotonicClock.nanoseconds() &- start, error: error.code)
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

    func encodeHits(_ hits: [Hit], start: UInt64, into o: inout JSONOutput) {
        o.raw("{\"hits\":")
        o.hitArray(hits, byteLimit: limits.maximumReplyBytes)
        o.raw(",\"took_us\":"); o.uint((MonotonicClock.nanoseconds() - start) / 1000); o.raw("}")
    }

}
