import Foundation
import ShortlistCore

/// Members of the replication ops (`replicate`, `install`).
extension RequestParser {
    /// A log position: `{"term": T, "lsn": N}`.
    func readPosition(_ s: inout JSONScanner, _ name: String) throws -> LogPosition {
        var term: UInt64?
        var lsn: UInt64?
        try Self.readMembers(&s, of: name) { s, key in
            switch key {
            case "term": term = try Self.id(&s, "\(name).term")
            case "lsn": lsn = try Self.id(&s, "\(name).lsn")
            default:
                try s.skipValue()
                throw ProtocolError(.unknownField, "unknown member '\(name).\(key)'; a position has 'term' and 'lsn'")
            }
        }
        guard let term, let lsn else { throw ProtocolError(.invalidRequest, "'\(name)' needs 'term' and 'lsn'") }
        return LogPosition(term: term, lsn: lsn)
    }

    /// Bytes as a base64 string (standard alphabet, `=` padding optional).
    func readBytes(_ s: inout JSONScanner, _ name: String) throws -> [UInt8] {
        guard Self.kind(&s) == UInt8(ascii: "\"") else { throw ProtocolError(.invalidRequest, "'\(name)' must be a base64 string") }
        return try Base64Vector.withStringContent(&s, name: name) { text in
            var out = [UInt8](repeating: 0, count: Base64.decodedCount(text))
            guard out.withUnsafeMutableBytes({ Base64.decode(text, into: $0) }) == out.count else {
                throw ProtocolError(.invalidRequest, "'\(name)' is not base64 (standard alphabet A–Z a–z 0–9 + /, '=' padding)")
            }
            return out
        }
    }
}
