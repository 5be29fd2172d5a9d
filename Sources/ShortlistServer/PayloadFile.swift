import Foundation
import ShortlistCore

/// Payloads on disk: JSON lines `{"id": 17, "payload": {...}}`, one per item, any JSON value as
/// the payload. Written atomically; read strictly (a bad line is refused with its number).
public enum PayloadFile {
    /// The `title` of each payload of the file at `path` that has a string one (an empty
    /// dictionary when there is no file): a model folder's `item_payloads.jsonl`, for display.
    public static func titles(path: String) throws -> [UInt64: String] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        return try read(path: path).compactMapValues { payload in
            guard case let .string(title)? = PayloadFields.indexable(payload)["title"]?.first else { return nil }
            return title
        }
    }

    static func read(path: String) throws -> [UInt64: [UInt8]] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CollectionError.badPayloadLine(path: path, line: 0, reason: "cannot read: \(error.localizedDescription)")
        }
        var out: [UInt64: [UInt8]] = [:]
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var lineNumber = 0
            var start = 0
            while start < bytes.count {
                lineNumber += 1
                var end = start
                while end < bytes.count && bytes[end] != 0x0A { end += 1 }
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                start = end + 1
                var s = JSONScanner(line)
                if s.isAtEnd() { continue }
                var id: UInt64?, payload: [UInt8]?
                do {
                    try s.readObject { s, key in
                        switch key {
                        case "id": id = try s.readUInt64()
                        case "payload": payload = try s.readRawValue()
                        default: try s.skipValue()
                        }
                    }
                    guard s.isAtEnd() else { throw JSONError.syntax(offset: s.position, expected: "the end of the line") }
                } catch {
                    throw CollectionError.badPayloadLine(path: path, line: lineNumber, reason: "\(error)")
                }
                guard let id, let payload else {
                    throw CollectionError.badPayloadLine(path: path, line: lineNumber, reason: "a line needs 'id' and 'payload'")
                }
                guard out.updateValue(payload, forKey: id) == nil else {
                    throw CollectionError.badPayloadLine(path: path, line: lineNumber, reason: "id \(id) has a payload on an earlier line already")
                }
            }
        }
        return out
    }

    /// The file's bytes for `payloads`, sorted by id.
    static func encode(_ payloads: [UInt64: [UInt8]]) -> [UInt8] {
        var o = JSONOutput(capacity: payloads.values.reduce(0) { $0 + $1.count + 40 })
        for id in payloads.keys.sorted() {
            o.raw("{\"id\":"); o.uint(id); o.raw(",\"payload\":"); o.raw(payloads[id]!); o.raw("}\n")
        }
        return o.bytes
    }

    /// Writes `payloads` sorted by id, atomically.
    static func write(_ payloads: [UInt64: [UInt8]], path: String) throws {
        try AtomicFileWriter.write(encode(payloads), to: path)
    }
}
