import ShortlistCore

/// The parts of replies that the server and the router both write.
extension JSONOutput {
    /// `{"term":T,"lsn":N}`.
    public mutating func position(_ p: LogPosition) {
        raw("{\"term\":"); uint(p.term); raw(",\"lsn\":"); uint(p.lsn); raw("}")
    }

    /// `[{"id":…,"score":…,"payload":…},…]` (`payload` only where a hit has one). Stops adding
    /// hits once the output is past `byteLimit`: the caller then refuses the reply as too long,
    /// without having built it whole.
    public mutating func hitArray(_ hits: [Hit], byteLimit: Int = .max) {
        raw("[")
        for (i, h) in hits.enumerated() {
            if bytes.count > byteLimit { break }
            if i > 0 { comma() }
            raw("{\"id\":"); uint(h.id); raw(",\"score\":"); float(h.score)
            if let p = h.payload { raw(",\"payload\":"); raw(p) }
            raw("}")
        }
        raw("]")
    }

    /// `[{"id":…,"vector":[…],"payload":…|null},…]`, stopping past `byteLimit` as `hitArray`.
    public mutating func pointArray(_ points: [StoredPoint], byteLimit: Int = .max) {
        raw("[")
        for (i, p) in points.enumerated() {
            if bytes.count > byteLimit { break }
            if i > 0 { comma() }
            raw("{\"id\":"); uint(p.id); raw(",\"vector\":"); floats(p.vector)
            raw(",\"payload\":"); if let payload = p.payload { raw(payload) } else { raw("null") }
            raw("}")
        }
        raw("]")
    }

    /// `[id,…]`.
    public mutating func idArray(_ ids: [UInt64]) {
        raw("[")
        for (i, id) in ids.enumerated() {
            if i > 0 { comma() }
            uint(id)
        }
        raw("]")
    }

    /// `["…",…]`.
    public mutating func stringArray(_ strings: [String]) {
        raw("[")
        for (i, s) in strings.enumerated() {
            if i > 0 { comma() }
            string(s)
        }
        raw("]")
    }
}
