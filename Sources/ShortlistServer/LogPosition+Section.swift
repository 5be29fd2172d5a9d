import ShortlistCore
import ShortlistIndex
import ShortlistProtocol

/// The log position a snapshot holds, kept in the index file it wrote (section `LOGP`:
/// `version u32 (1) | term u64 | lsn u64`, little-endian), so that a server whose log is empty
/// after a snapshot still knows where its log stands.
extension LogPosition {
    static let sectionTag = "LOGP"

    var section: IndexFile.Section {
        var w = BinaryWriter()
        w.write(UInt32(1))
        w.write(term)
        w.write(lsn)
        return IndexFile.Section(tag: Self.sectionTag, payload: .bytes(w.bytes))
    }

    /// The position in a `LOGP` section's bytes (`path` names the file in errors).
    init(section bytes: [UInt8], path: String) throws {
        guard bytes.count == 20 else {
            throw CollectionError.invalidDescription(path, reason: "its LOGP section is \(bytes.count) bytes, not 20")
        }
        let u = { (at: Int) -> UInt64 in bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }.littleEndian }
        let version = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }.littleEndian
        guard version == 1 else {
            throw CollectionError.invalidDescription(path, reason: "its LOGP section is version \(version), newer than this build reads")
        }
        self.init(term: u(4), lsn: u(12))
    }
}
