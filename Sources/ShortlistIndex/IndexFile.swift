import ShortlistCore

/// The v1 index file, in the `SectionFile` container: magic `SHORTLST`, and as the header's
/// facts u32 kind · u32 metric · u32 dimension · u64 count. `docs/file-format.md` is the
/// description for people.
public enum IndexFile {
    /// The format version this build writes, and the newest it reads.
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("SHORTLST".utf8)

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

    /// One section to write (`SectionFile.Section`).
    public typealias Section = SectionFile.Section
    /// Bytes owned by a section (`SectionFile.CopiedBytes`).
    public typealias CopiedBytes = SectionFile.CopiedBytes

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
        var facts = BinaryWriter()
        facts.write(header.kind.rawValue)
        facts.write(header.metric.code)
        facts.write(UInt32(header.dimension))
        facts.write(UInt64(header.count))
        try SectionFile.write(path: path, magic: magic, version: header.formatVersion, facts: facts.bytes, sections: sections)
    }

    /// Maps `path`, checks magic, version, every checksum and every length, and returns the
    /// sections. With `copyOnWrite` the mapping is private and writable, so an index can use its
    /// sections in place and still change (the file never does).
    public static func read(path: String, copyOnWrite: Bool = false) throws -> Contents {
        var header: Header?
        let contents: SectionFile.Contents
        do {
            contents = try SectionFile.read(path: path, magic: magic, copyOnWrite: copyOnWrite) { version, facts in
                var r = BinaryReader(facts)
                let kindCode = try r.readUInt32()
                let metricCode = try r.readUInt32()
                let dimension = Int(try r.readUInt32())
                let count = try r.readUInt64()
                if version > formatVersion { throw IndexFileError.newerVersion(path: path, found: version, supported: formatVersion) }
                guard version == 1 else { throw IndexFileError.unsupportedVersion(path: path, found: version) }
                guard let kind = IndexKind(rawValue: kindCode) else { throw IndexFileError.unknownKind(path: path, code: kindCode) }
                guard let metric = Metric(code: metricCode) else { throw IndexFileError.unknownMetric(path: path, code: metricCode) }
                guard dimension >= 1, dimension <= VectorMatrix.maximumDimension, count < UInt64(UInt32.max) else {
                    throw IndexFileError.inconsistent(path: path, reason: "dimension \(dimension) or count \(count) out of range")
                }
                header = Header(kind: kind, metric: metric, dimension: dimension, count: Int(count), formatVersion: version)
            }
        } catch let failure as SectionFile.Failure {
            switch failure {
            case .wrongMagic: throw IndexFileError.notAnIndexFile(path: path)
            case let .truncated(reason): throw IndexFileError.truncated(path: path, reason: reason)
            case .corruptedHeader: throw IndexFileError.corruptedHeader(path: path)
            case let .corruptedSection(tag): throw IndexFileError.corruptedSection(path: path, tag: tag)
            case let .inconsistent(reason): throw IndexFileError.inconsistent(path: path, reason: reason)
            }
        }
        return Contents(path: path, header: header!, sections: contents.sections, sectionList: contents.sectionList, file: contents.file)
    }
}
