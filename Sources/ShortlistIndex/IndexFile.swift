import ShortlistCore

/// The v1 index file: a fixed 64-byte header, then length-prefixed, checksummed sections, each
/// payload 64-byte aligned so that vectors can be used in place. Little-endian throughout.
/// `docs/file-format.md` is the description for people; this type is the one implementation.
///
/// Header (64 bytes): magic `SHORTLST` · u32 format version · u32 kind · u32 metric ·
/// u32 dimension · u64 count · u32 section count · u32 flags · 20 reserved bytes ·
/// u32 CRC-32C of bytes 0..<60.
///
/// Each section: a 64-byte block [4-byte tag · u32 flags · u64 payload length · u32 payload
/// CRC-32C · 8 reserved bytes · u32 CRC-32C of bytes 0..<28 · 32 zero bytes], then the payload,
/// then zero padding to a multiple of 64. The file ends right after the last section's padding.
public enum IndexFile {
    /// The format version this build writes, and the newest it reads.
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("SHORTLST".utf8)
    static let headerSize = 64
    static let sectionHeaderSize = 64

    /// The fixed header's facts.
    public struct Header: Equatable, Sendable {
        public var formatVersion: UInt32
        public var kind: IndexKind
        public var metric: Metric
        public var dimension: Int
        public var count: Int

        public init(kind: IndexKind, metric: Metric, dimension: Int, count: Int, formatVersion: UInt32 = IndexFile.formatVersion) {
            self.formatVersion = formatVersion
            self.kind = kind
            self.metric = metric
            self.dimension = dimension
            self.count = count
        }
    }

    /// One section to write: a four-character tag and its payload.
    public struct Section {
        public enum Payload {
            case bytes([UInt8])
            case vectors(VectorMatrix)
            case uint64s([UInt64])
            /// A private copy (`Section.copy(tag:of:)`).
            case copied(CopiedBytes)
        }

        /// A section holding its own copy of `bytes`, in an aligned allocation that a large copy
        /// backs with huge pages (a copy taken while writers wait costs memcpy time, not page
        /// faults: 2 MiB pages instead of 4 KiB ones).
        public static func copy(tag: String, of bytes: UnsafeRawBufferPointer) -> Section {
            Section(tag: tag, payload: .copied(CopiedBytes(bytes)))
        }
        public var tag: String
        public var payload: Payload

        public init(tag: String, payload: Payload) {
            precondition(tag.utf8.count == 4, "section tags are four bytes")
            self.tag = tag
            self.payload = payload
        }

        func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
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

    /// What a checked file holds: its header and each section's payload (views into `file`).
    public struct Contents {
        public let path: String
        public let header: Header
        public let sections: [String: UnsafeRawBufferPointer]
        /// Section tags in file order, with checksums, for `inspect`.
        public let sectionList: [(tag: String, length: Int, crc: UInt32)]
        /// Keeps the mapping alive while the views are used.
        public let file: MappedFile

        /// The payload of `tag`, or `missingSection`.
        public func section(_ tag: String) throws -> UnsafeRawBufferPointer {
            guard let s = sections[tag] else { throw IndexFileError.missingSection(path: path, tag: tag) }
            return s
        }
    }

    /// A whole file before it is written: the header and the sections.
    public struct Document {
        public var header: Header
        public var sections: [Section]

        public init(header: Header, sections: [Section]) {
            self.header = header
            self.sections = sections
        }

        /// The same document owning all of its bytes: sections that reference a live matrix are
        /// copied (byte arrays are values already). Take it while the index is not changing, then
        /// write it (checksums and disk) while the index goes on changing: a server's snapshot.
        public func detached() -> Document {
            Document(header: header, sections: sections.map { section in
                guard case let .vectors(m) = section.payload else { return section }
                return Section.copy(tag: section.tag, of: UnsafeRawBufferPointer(start: m.baseAddress, count: m.count * m.dimension * 4))
            })
        }
    }

    /// Writes header and sections to `path` atomically (temporary file, fsync, rename, fsync of the directory).
    public static func write(path: String, header: Header, sections: [Section]) throws {
        var h = BinaryWriter()
        h.write(bytes: magic)
        h.write(header.formatVersion)
        h.write(header.kind.rawValue)
        h.write(header.metric.code)
        h.write(UInt32(header.dimension))
        h.write(UInt64(header.count))
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

    /// Maps `path`, checks magic, version, every checksum and every length, and returns the
    /// sections. With `copyOnWrite` the mapping is private and writable, so an index can use its
    /// sections in place and still change (the file never does).
    public static func read(path: String, copyOnWrite: Bool = false) throws -> Contents {
        let file = try MappedFile(path: path, copyOnWrite: copyOnWrite)
        let bytes = file.bytes
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            if bytes.count < magic.count && bytes.elementsEqual(magic.prefix(bytes.count)) && bytes.count > 0 {
                throw IndexFileError.truncated(path: path, reason: "the file has \(bytes.count) bytes, less than its header")
            }
            throw IndexFileError.notAnIndexFile(path: path)
        }
        guard bytes.count >= headerSize else {
            throw IndexFileError.truncated(path: path, reason: "the file has \(bytes.count) bytes, less than its 64-byte header")
        }
        var r = BinaryReader(bytes, offset: magic.count)
        let version = try r.readUInt32()
        let kindCode = try r.readUInt32()
        let metricCode = try r.readUInt32()
        let dimension = Int(try r.readUInt32())
        let count = try r.readUInt64()
        let sectionCount = Int(try r.readUInt32())
        _ = try r.readUInt32()  // flags
        let storedCRC = bytes.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian
        guard Checksum.crc32c(UnsafeRawBufferPointer(rebasing: bytes[0..<60])) == storedCRC else {
            throw IndexFileError.corruptedHeader(path: path)
        }
        if version > formatVersion { throw IndexFileError.newerVersion(path: path, found: version, supported: formatVersion) }
        guard version == 1 else { throw IndexFileError.unsupportedVersion(path: path, found: version) }
        guard let kind = IndexKind(rawValue: kindCode) else { throw IndexFileError.unknownKind(path: path, code: kindCode) }
        guard let metric = Metric(code: metricCode) else { throw IndexFileError.unknownMetric(path: path, code: metricCode) }
        guard dimension >= 1, dimension <= VectorMatrix.maximumDimension, count < UInt64(UInt32.max) else {
            throw IndexFileError.inconsistent(path: path, reason: "dimension \(dimension) or count \(count) out of range")
        }
        var sections: [String: UnsafeRawBufferPointer] = [:]
        var list: [(tag: String, length: Int, crc: UInt32)] = []
        var offset = headerSize
        for i in 0..<sectionCount {
            guard bytes.count - offset >= sectionHeaderSize else {
                throw IndexFileError.truncated(path: path, reason: "section \(i + 1) of \(sectionCount) is missing")
            }
            var s = BinaryReader(bytes, offset: offset)
            let tagBytes = try s.readBytes(4)
            let tag = String(decoding: tagBytes, as: UTF8.self)
            _ = try s.readUInt32()
            let length = try s.readUInt64()
            let payloadCRC = try s.readUInt32()
            try s.skip(8)
            let headerCRC = try s.readUInt32()
            guard Checksum.crc32c(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 28])) == headerCRC else {
                throw IndexFileError.corruptedSection(path: path, tag: tag.allSatisfy { $0.isASCII && !$0.isWhitespace || $0 == " " } ? tag : "#\(i + 1)")
            }
            let start = offset + sectionHeaderSize
            // Reserved bytes are zero; so is padding (checked below). With the checksums this
            // means no byte of a valid file can change unnoticed.
            guard bytes[(offset + 32)..<start].allSatisfy({ $0 == 0 }) else {
                throw IndexFileError.corruptedSection(path: path, tag: tag)
            }
            guard length <= UInt64(bytes.count - start) else {
                throw IndexFileError.truncated(path: path, reason: "section '\(tag)' needs \(length) bytes, \(bytes.count - start) remain")
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(length)])
            let crc = Checksum.crc32c(payload)
            guard crc == payloadCRC else { throw IndexFileError.corruptedSection(path: path, tag: tag) }
            guard sections.updateValue(payload, forKey: tag) == nil else {
                throw IndexFileError.inconsistent(path: path, reason: "section '\(tag)' appears twice")
            }
            list.append((tag, Int(length), crc))
            offset = start + (Int(length) + 63) / 64 * 64
            guard offset <= bytes.count else {
                throw IndexFileError.truncated(path: path, reason: "section '\(tag)' padding is cut off")
            }
            guard bytes[(start + Int(length))..<offset].allSatisfy({ $0 == 0 }) else {
                throw IndexFileError.corruptedSection(path: path, tag: tag)
            }
        }
        guard offset == bytes.count else {
            throw IndexFileError.inconsistent(path: path, reason: "\(bytes.count - offset) unexpected bytes after the last section")
        }
        let header = Header(kind: kind, metric: metric, dimension: dimension, count: Int(count), formatVersion: version)
        return Contents(path: path, header: header, sections: sections, sectionList: list, file: file)
    }
}
