/// The one binary container of Shortlist's files (index files, model files, checkpoints): a
/// fixed 64-byte header, then length-prefixed, checksummed sections, each payload 64-byte aligned
/// so that vectors can be used in place. Little-endian throughout; `docs/file-format.md`
/// describes it for people.
///
/// Header (64 bytes): 8 magic bytes (the file type) · u32 format version · 20 bytes of the file
/// type's facts · u32 section count · u32 flags (0) · 20 reserved zero bytes · u32 CRC-32C of
/// bytes 0..<60.
///
/// Each section: a 64-byte block [4-byte tag · u32 flags (0) · u64 payload length · u32 payload
/// CRC-32C · 8 reserved bytes · u32 CRC-32C of bytes 0..<28 · 32 zero bytes], then the payload,
/// then zero padding to a multiple of 64. The file ends right after the last section's padding.
/// A tag appears at most once. With the checksums and the zero checks, no byte of a valid file
/// can change unnoticed.
public enum SectionFile {
    public static let headerSize = 64
    public static let sectionHeaderSize = 64
    /// Bytes of the header that belong to the file type (offsets 12..<32).
    public static let factsSize = 20

    /// One section to write: a four-character tag and its payload.
    public struct Section {
        public enum Payload {
            case bytes([UInt8])
            case vectors(VectorMatrix)
            case uint64s([UInt64])
            /// A private copy (`Section.copy(tag:of:)`).
            case copied(CopiedBytes)
        }

        public var tag: String
        public var payload: Payload

        public init(tag: String, payload: Payload) {
            precondition(tag.utf8.count == 4, "section tags are four bytes")
            self.tag = tag
            self.payload = payload
        }

        /// A section holding its own copy of `bytes`, in an aligned allocation that a large copy
        /// backs with huge pages (a copy taken while writers wait costs memcpy time, not page
        /// faults: 2 MiB pages instead of 4 KiB ones).
        public static func copy(tag: String, of bytes: UnsafeRawBufferPointer) -> Section {
            Section(tag: tag, payload: .copied(CopiedBytes(bytes)))
        }

        public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            switch payload {
            case let .bytes(b): return try b.withUnsafeBytes(body)
            case let .uint64s(v): return try v.withUnsafeBytes(body)
            case let .vectors(m):
                return try body(UnsafeRawBufferPointer(start: m.baseAddress, count: m.count * m.dimension * 4))
            case let .copied(c): return try body(UnsafeRawBufferPointer(start: c.base, count: c.count))
            }
        }
    }

    /// Bytes owned by a section (freed with it).
    public final class CopiedBytes: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let count: Int

        init(_ bytes: UnsafeRawBufferPointer) {
            count = bytes.count
            base = UnsafeMutableRawPointer(AlignedMemory.allocate(UInt8.self, count: max(count, 1)))
            if count > 0 { base.copyMemory(from: bytes.baseAddress!, byteCount: count) }
        }

        deinit { AlignedMemory.free(base.assumingMemoryBound(to: UInt8.self)) }
    }

    /// A checked file: its version, facts and each section's payload (views into `file`).
    public struct Contents {
        public let path: String
        public let version: UInt32
        /// The file type's `factsSize` header bytes.
        public let facts: UnsafeRawBufferPointer
        public let sections: [String: UnsafeRawBufferPointer]
        /// Section tags in file order, with checksums, for `inspect`.
        public let sectionList: [(tag: String, length: Int, crc: UInt32)]
        /// Keeps the mapping alive while the views are used.
        public let file: MappedFile
    }

    /// Why a file was refused as a container (the file type maps these to its own errors).
    public enum Failure: Error, Equatable {
        /// The file does not start with the expected magic bytes.
        case wrongMagic
        case truncated(String)
        case corruptedHeader
        case corruptedSection(tag: String)
        case inconsistent(String)
    }

    /// Writes `sections` under a header of `magic` (8 bytes), `version` and `facts` (at most
    /// `factsSize` bytes, zero-padded) to `path` atomically (temporary file, fsync, rename,
    /// fsync of the directory).
    public static func write(path: String, magic: [UInt8], version: UInt32, facts: [UInt8], sections: [Section]) throws {
        precondition(magic.count == 8 && facts.count <= factsSize)
        var h = BinaryWriter()
        h.write(bytes: magic)
        h.write(version)
        h.write(bytes: facts + [UInt8](repeating: 0, count: factsSize - facts.count))
        h.write(UInt32(sections.count))
        h.write(UInt32(0))
        h.write(bytes: [UInt8](repeating: 0, count: 20))
        h.write(Checksum.crc32c(h.bytes))
        let writer = try AtomicFileWriter(path: path)
        try writer.write(h.bytes)
        for section in sections {
            try section.withBytes { payload in
                var s = BinaryWriter()
                s.write(bytes: Array(section.tag.utf8))
                s.write(UInt32(0))
                s.write(UInt64(payload.count))
                s.write(Checksum.crc32c(payload))
                s.write(bytes: [UInt8](repeating: 0, count: 8))
                s.write(Checksum.crc32c(s.bytes))
                s.pad(to: sectionHeaderSize)
                try writer.write(s.bytes)
                try writer.write(payload)
                try writer.writeZeros((64 - payload.count % 64) % 64)
            }
        }
        try writer.commit()
    }

    /// Maps `path` and checks magic, header checksum, then — after `checkHeader(version, facts)`
    /// accepts the header — every section's checksums, lengths and padding. With `copyOnWrite`
    /// the mapping is private and writable, so sections can be used in place and still change
    /// (the file never does).
    public static func read(path: String, magic: [UInt8], copyOnWrite: Bool = false,
                            checkHeader: (UInt32, UnsafeRawBufferPointer) throws -> Void) throws -> Contents {
        let file = try MappedFile(path: path, copyOnWrite: copyOnWrite)
        let bytes = file.bytes
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            if bytes.count < magic.count && bytes.elementsEqual(magic.prefix(bytes.count)) && bytes.count > 0 {
                throw Failure.truncated("the file has \(bytes.count) bytes, less than its header")
            }
            throw Failure.wrongMagic
        }
        guard bytes.count >= headerSize else {
            throw Failure.truncated("the file has \(bytes.count) bytes, less than its 64-byte header")
        }
        let version = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        let sectionCount = Int(bytes.loadUnaligned(fromByteOffset: 32, as: UInt32.self).littleEndian)
        let storedCRC = bytes.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian
        guard Checksum.crc32c(UnsafeRawBufferPointer(rebasing: bytes[0..<60])) == storedCRC else { throw Failure.corruptedHeader }
        let facts = UnsafeRawBufferPointer(rebasing: bytes[12..<(12 + factsSize)])
        try checkHeader(version, facts)
        var sections: [String: UnsafeRawBufferPointer] = [:]
        var list: [(tag: String, length: Int, crc: UInt32)] = []
        var offset = headerSize
        for i in 0..<sectionCount {
            guard bytes.count - offset >= sectionHeaderSize else {
                throw Failure.truncated("section \(i + 1) of \(sectionCount) is missing")
            }
            var s = BinaryReader(bytes, offset: offset)
            let tag = String(decoding: try s.readBytes(4), as: UTF8.self)
            _ = try s.readUInt32()
            let length = try s.readUInt64()
            let payloadCRC = try s.readUInt32()
            try s.skip(8)
            let headerCRC = try s.readUInt32()
            guard Checksum.crc32c(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 28])) == headerCRC else {
                throw Failure.corruptedSection(tag: tag.allSatisfy { $0.isASCII && !$0.isWhitespace || $0 == " " } ? tag : "#\(i + 1)")
            }
            let start = offset + sectionHeaderSize
            guard bytes[(offset + 32)..<start].allSatisfy({ $0 == 0 }) else { throw Failure.corruptedSection(tag: tag) }
            guard length <= UInt64(bytes.count - start) else {
                throw Failure.truncated("section '\(tag)' needs \(length) bytes, \(bytes.count - start) remain")
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(length)])
            let crc = Checksum.crc32c(payload)
            guard crc == payloadCRC else { throw Failure.corruptedSection(tag: tag) }
            guard sections.updateValue(payload, forKey: tag) == nil else { throw Failure.inconsistent("section '\(tag)' appears twice") }
            list.append((tag, Int(length), crc))
            offset = start + (Int(length) + 63) / 64 * 64
            guard offset <= bytes.count else { throw Failure.truncated("section '\(tag)' padding is cut off") }
            guard bytes[(start + Int(length))..<offset].allSatisfy({ $0 == 0 }) else { throw Failure.corruptedSection(tag: tag) }
        }
        guard offset == bytes.count else {
            throw Failure.inconsistent("\(bytes.count - offset) unexpected bytes after the last section")
        }
        return Contents(path: path, version: version, facts: facts, sections: sections, sectionList: list, file: file)
    }
}
