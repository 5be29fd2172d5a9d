import ShortlistCore

/// The `META` section: string key/value pairs (spec, the writing version, build settings).
/// Encoded as u32 count, then per pair two u32-length-prefixed UTF-8 strings, sorted by key.
public struct IndexMetadata: Equatable, Sendable {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// The section payload.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(UInt32(values.count))
        for key in values.keys.sorted() {
            w.write(key)
            w.write(values[key]!)
        }
        return w.bytes
    }

    /// Decodes a payload; throws `IndexFileError.inconsistent` when malformed.
    public init(decoding bytes: UnsafeRawBufferPointer, path: String) throws {
        var r = BinaryReader(bytes)
        do {
            let n = Int(try r.readUInt32())
            guard n <= bytes.count / 8 else { throw IndexFileError.inconsistent(path: path, reason: "META declares \(n) entries") }
            var values: [String: String] = [:]
            for _ in 0..<n {
                let k = try r.readString()
                values[k] = try r.readString()
            }
            self.values = values
        } catch let e as BinaryReaderError {
            throw IndexFileError.inconsistent(path: path, reason: "META: \(e)")
        }
    }

    /// The version string written into every file.
    public static let writerVersion = "shortlist 0.1.0"
}
