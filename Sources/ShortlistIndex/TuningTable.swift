import ShortlistCore

/// What `shortlist tune` measured for an index: for each setting of its search knobs, the recall
/// reached on held-out queries and the time per query. Stored in the index file as the optional
/// `TUNE` section, so a search can ask for a recall instead of a knob.
///
/// Section payload (little-endian): `version u32 (1) | k u32 | count u32`, then per entry
/// `ef u32 | nprobe u32 | rerank u32` (0: not set) `| recall f64 | microseconds f64`.
public struct TuningTable: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var parameters: SearchParameters
        /// Recall@k on the tuning queries.
        public var recall: Double
        /// Mean time per query on one thread.
        public var microseconds: Double

        public init(parameters: SearchParameters, recall: Double, microseconds: Double) {
            self.parameters = parameters
            self.recall = recall
            self.microseconds = microseconds
        }
    }

    public static let tag = "TUNE"

    /// The k the recall was measured at.
    public var k: Int
    public var entries: [Entry]

    public init(k: Int, entries: [Entry]) {
        self.k = k
        self.entries = entries
    }

    /// The fastest setting whose measured recall reaches `target`; nil when none does. Along
    /// one knob (ef, or nprobe at a given rerank) a larger value never costs less, so measured
    /// times are first made non-decreasing along it: timing noise cannot pick ef = 28 over 24.
    public func parameters(forRecall target: Double) -> Entry? {
        var smoothed: [(entry: Entry, cost: Double, knob: Int)] = []
        let ladders = Dictionary(grouping: entries) { e in "\(e.parameters.ef == nil)-\(e.parameters.rerank ?? 0)" }
        for (_, ladder) in ladders {
            var worst = 0.0
            for e in ladder.sorted(by: { ($0.parameters.ef ?? $0.parameters.nprobe ?? 0) < ($1.parameters.ef ?? $1.parameters.nprobe ?? 0) }) {
                worst = max(worst, e.microseconds)
                smoothed.append((e, worst, e.parameters.ef ?? e.parameters.nprobe ?? 0))
            }
        }
        return smoothed.filter { $0.entry.recall >= target }
            .min { $0.cost != $1.cost ? $0.cost < $1.cost : $0.knob < $1.knob }?.entry
    }

    /// The highest recall any setting reached.
    public var bestRecall: Double { entries.map(\.recall).max() ?? 0 }

    public func encoded() -> [UInt8] {
        var w = BinaryWriter()
        w.write(UInt32(1))
        w.write(UInt32(k))
        w.write(UInt32(entries.count))
        for e in entries {
            w.write(UInt32(e.parameters.ef ?? 0))
            w.write(UInt32(e.parameters.nprobe ?? 0))
            w.write(UInt32(e.parameters.rerank ?? 0))
            w.write(e.recall.bitPattern)
            w.write(e.microseconds.bitPattern)
        }
        return w.bytes
    }

    public init(decoding bytes: UnsafeRawBufferPointer, path: String) throws {
        var r = BinaryReader(bytes)
        do {
            let version = try r.readUInt32()
            guard version == 1 else { throw IndexFileError.inconsistent(path: path, reason: "TUNE section version \(version) is newer than this reader") }
            k = Int(try r.readUInt32())
            let n = Int(try r.readUInt32())
            guard n <= bytes.count / 28 else { throw IndexFileError.inconsistent(path: path, reason: "TUNE declares \(n) entries") }
            entries = []
            for _ in 0..<n {
                let ef = Int(try r.readUInt32()), nprobe = Int(try r.readUInt32()), rerank = Int(try r.readUInt32())
                let recall = Double(bitPattern: try r.readUInt64()), us = Double(bitPattern: try r.readUInt64())
                guard recall.isFinite, recall >= 0, recall <= 1, us.isFinite, us >= 0 else {
                    throw IndexFileError.inconsistent(path: path, reason: "TUNE entry with recall \(recall), \(us) µs")
                }
                entries.append(Entry(parameters: SearchParameters(ef: ef == 0 ? nil : ef, nprobe: nprobe == 0 ? nil : nprobe, rerank: rerank == 0 ? nil : rerank),
                                     recall: recall, microseconds: us))
            }
        } catch let e as BinaryReaderError {
            throw IndexFileError.inconsistent(path: path, reason: "TUNE: \(e)")
        }
    }

    /// The table in a checked index file's sections, or nil when it has none.
    init?(_ contents: IndexFile.Contents) throws {
        guard let bytes = contents.sections[Self.tag] else { return nil }
        try self.init(decoding: bytes, path: contents.path)
    }

    /// The table stored in the index file at `path`, or nil when it has none.
    public static func read(indexAt path: String) throws -> TuningTable? {
        try TuningTable(IndexFile.read(path: path))
    }

    /// The table as an index file section, to save with the index (`VectorIndex.save(to:extraSections:)`).
    public var section: IndexFile.Section { IndexFile.Section(tag: Self.tag, payload: .bytes(encoded())) }

    /// Rewrites the index file at `path` atomically with this table as its `TUNE` section
    /// (replacing any earlier one); every other section is kept as it is.
    public func store(inIndexAt path: String) throws {
        let contents = try IndexFile.read(path: path)
        var sections: [IndexFile.Section] = []
        for (sectionTag, _, _) in contents.sectionList where sectionTag != Self.tag {
            sections.append(IndexFile.Section(tag: sectionTag, payload: .bytes(Array(contents.sections[sectionTag]!))))
        }
        sections.append(section)
        try IndexFile.write(path: path, header: contents.header, sections: sections)
    }
}
