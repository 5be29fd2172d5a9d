import Foundation
import ShortlistCore
import ShortlistFeatures

/// The model file (`model.slm`) and training checkpoint (`checkpoint.slm`). Version 3 is a
/// `SectionFile` (the container index files use) with magic `SLMODEL1` and zero facts; versions
/// 1 and 2 used a container of their own, still read (`ModelFile+Legacy.swift`).
///
/// Sections: `CONF` configuration (key=value text), `SRCE` the data description (key=value
/// text, optional), `SHAP` user and item counts and each tower's input fields, `UIDS` / `IIDS`
/// external ids (u64), `SEEN` each known user's items in time order (optional), `PARM` every
/// parameter buffer (u32 buffer count, then per buffer u64 count and f32 values).
///
/// `SHAP` in version 2: u64 users · u64 items · per tower u32 field count, then per field:
/// string name · u8 role (0 feature, 1 history, 2 context, 3 bias) · u64 rows · u8 flags (1: the
/// rows of every known entity follow as u64 offset count, u64 offsets, u64 index count, i32
/// indices; 2: a `FeatureEncoder` follows). Version 1 had no role and flags: every field was a
/// stored feature. `SEEN`: u64 users · u64 entries · u64 offsets (users + 1) · i32 item rows.
///
/// The model file is the serving artefact: towers, vocabularies, schema and the seen sets;
/// never optimiser state or the training data. A checkpoint adds `OPTM` (Adam moments / Adagrad accumulators, same layout,
/// two arrays per buffer), `TRAN` (epoch, step, generator state, early-stopping state, history)
/// and `BEST` (the best epoch's parameters, PARM layout). Written atomically.
public enum ModelFile {
    static let magic = Array("SLMODEL1".utf8)
    /// The format version this build writes and the newest it reads.
    public static let version: UInt32 = 3

    /// A model read back, with the description of the data it was trained on (if stored).
    public struct Loaded {
        public let model: TwoTowerModel
        /// `InteractionSource.serialized` text (key=value lines), as `save` was given it.
        public let dataDescription: String?
    }

    /// Writes the model's weights (no optimiser state) and, when given, the description of its
    /// training data (`InteractionSource.serialized`: key=value lines).
    public static func save(_ model: TwoTowerModel, dataDescription source: String?, to path: String) throws {
        try write(path: path, sections: modelSections(model, source: source))
    }

    /// Reads a model file or checkpoint (its current weights).
    public static func load(path: String) throws -> Loaded {
        let (sections, version, file) = try readSections(path: path)
        return try withExtendedLifetime(file) { try readerErrorsAsCorrupt(path) { try buildModel(sections, version: version) } }
    }

    /// Whether `path` starts with the model file's magic bytes.
    public static func isModelFile(path: String) -> Bool {
        guard let file = try? MappedFile(path: path), file.count >= 8 else { return false }
        return Array(file.bytes[0..<8]) == magic
    }

    /// A verified model file or checkpoint described as (label, value) lines for `shortlist inspect`.
    public static func describe(path: String) throws -> [(String, String)] {
        let (sections, fileVersion, file) = try readSections(path: path)
        let loaded = try withExtendedLifetime(file) { try readerErrorsAsCorrupt(path) { try buildModel(sections, version: fileVersion) } }
        let m = loaded.model, c = m.configuration
        var lines: [(String, String)] = [
            ("file", path), ("format version", "v\(fileVersion)"),
            ("kind", sections["TRAN"] == nil ? "two-tower model" : "two-tower training checkpoint"),
            ("users × items", "\(m.userIds.count) × \(m.itemIds.count)"),
            ("towers", "dimension \(c.dimension), hidden [\(c.hiddenWidths.map(String.init).joined(separator: ","))], \(m.parameterCount) parameters"),
            ("user features", m.featureNames.user.isEmpty ? "none" : m.featureNames.user.joined(separator: ", ")),
            ("item features", m.featureNames.item.isEmpty ? "none" : m.featureNames.item.joined(separator: ", ")),
            ("scores", "\(m.scoreMetric) over \(m.embeddingDimension)-dimensional embeddings, τ \(m.temperature)"),
            ("request inputs", requestInputs(m)),
            ("seen sets", m.seen.map { "\($0.items.count) items of \($0.rowCount) users (exclude_seen, history by user id)" } ?? "none"),
            ("training", "batch \(c.batchSize), lr \(c.learningRate), weight decay \(c.weightDecay), item bias \(c.itemBias), \(c.embeddingOptimizer.rawValue), negatives \(c.uniformNegatives), log-Q \(c.logQCorrection), seed \(c.seed)"),
        ]
        if let text = loaded.dataDescription {
            var values: [Substring: Substring] = [:]
            for line in text.split(separator: "\n") { if let eq = line.firstIndex(of: "=") { values[line[..<eq]] = line[line.index(after: eq)...] } }
            if let format = values["format"], let path = values["path"] { lines.append(("data", "\(format) \(path)")) }
        }
        if let tran = sections["TRAN"] {
            var r = BinaryReader(tran)
            lines.append(("epochs done", "\(try r.readUInt64())"))
        }
        lines.append(("size", "\(file.count) bytes; every section's CRC-32C verified"))
        return lines
    }

    /// What a `recommend` request may carry for this model, in words.
    private static func requestInputs(_ m: TwoTowerModel) -> String {
        let names = m.requestFieldNames
        var parts = [m.configuration.userIdEmbedding ? "user_id" : "user_id (for seen sets only)"]
        if m.configuration.historyLength > 0 { parts.append("history (latest \(m.configuration.historyLength), decay \(m.configuration.historyDecay))") }
        if !names.user.isEmpty { parts.append("features " + names.user.joined(separator: ", ")) }
        if !names.context.isEmpty { parts.append("context " + names.context.joined(separator: ", ")) }
        var text = parts.joined(separator: "; ")
        if m.embedsItemsFromFeatures { text += "; upsert by item features " + names.item.joined(separator: ", ") }
        return text
    }

    /// Turns a short read inside a section into `corruptModel` naming the file.
    package static func readerErrorsAsCorrupt<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as BinaryReaderError {
            throw TrainerError.corruptModel("\(path): \(error)")
        }
    }

    // MARK: encoding

    package static func modelSections(_ model: TwoTowerModel, source: String?) -> [(String, [UInt8])] {
        var sections: [(String, [UInt8])] = [("CONF", Array(model.configuration.serialized.utf8))]
        if let source { sections.append(("SRCE", Array(source.utf8))) }
        var shape = BinaryWriter()
        shape.write(UInt64(model.userIds.count))
        shape.write(UInt64(model.itemIds.count))
        for fields in [model.userFields, model.itemFields] {
            shape.write(UInt32(fields.count))
            for f in fields {
                shape.write(f.name)
                shape.write(f.role.rawValue)
                shape.write(UInt64(f.vocabularySize))
                shape.write(UInt8((f.stored == nil ? 0 : 1) | (f.encoder == nil ? 0 : 2)))
                if let stored = f.stored {
                    shape.write(UInt64(stored.offsets.count))
                    for o in stored.offsets { shape.write(UInt64(o)) }
                    shape.write(UInt64(stored.indices.count))
                    for i in stored.indices { shape.write(i) }
                }
                f.encoder?.write(to: &shape)
            }
        }
        sections.append(("SHAP", shape.bytes))
        if let seen = model.seen {
            var w = BinaryWriter()
            w.write(UInt64(seen.rowCount))
            w.write(UInt64(seen.items.count))
            for o in seen.offsets { w.write(UInt64(o)) }
            for i in seen.items { w.write(i) }
            sections.append(("SEEN", w.bytes))
        }
        for (tag, ids) in [("UIDS", model.userIds), ("IIDS", model.itemIds)] {
            var w = BinaryWriter()
            for id in ids { w.write(id) }
            sections.append((tag, w.bytes))
        }
        var parameters = BinaryWriter()
        let buffers = model.parameterBuffers
        parameters.write(UInt32(buffers.count))
        for b in buffers { appendFloats(&parameters, UnsafeBufferPointer(start: b.values, count: b.count)) }
        sections.append(("PARM", parameters.bytes))
        return sections
    }

    package static func buildModel(_ sections: [String: UnsafeRawBufferPointer], version: UInt32) throws -> Loaded {
        guard let configText = String(validating: try section(sections, "CONF"), as: UTF8.self) else {
            throw TrainerError.corruptModel("configuration is not UTF-8")
        }
        let configuration = try TwoTowerConfiguration(serialized: configText)
        var source: String?
        if let raw = sections["SRCE"] {
            guard let text = String(validating: raw, as: UTF8.self) else { throw TrainerError.corruptModel("data description is not UTF-8") }
            source = text
        }
        var shape = BinaryReader(try section(sections, "SHAP"))
        let userCount = Int(try shape.readUInt64()), itemCount = Int(try shape.readUInt64())
        guard userCount > 0, itemCount > 0, userCount < 1 << 31, itemCount < 1 << 31 else { throw TrainerError.corruptModel("user or item count") }
        var fieldLists: [[ModelField]] = []
        for entities in [userCount, itemCount] {
            let count = Int(try shape.readUInt32())
            guard count <= 64 else { throw TrainerError.corruptModel("feature field count") }
            var fields: [ModelField] = []
            for _ in 0..<count {
                let name = try shape.readString()
                var role = FieldRole.attribute, flags: UInt8 = 1
                if version >= 2 {
                    let raw = try shape.readUInt8()
                    guard let r = FieldRole(rawValue: raw) else { throw TrainerError.corruptModel("field \(name) has unknown role \(raw)") }
                    role = r
                }
                let vocabulary = Int(try shape.readUInt64())
                guard vocabulary > 0, vocabulary < 1 << 31 else { throw TrainerError.corruptModel("feature field \(name)") }
                if version >= 2 {
                    flags = try shape.readUInt8()
                    guard flags & ~3 == 0 else { throw TrainerError.corruptModel("field \(name) has unknown flags \(flags)") }
                }
                var stored: FeatureField?
                if flags & 1 != 0 {
                    let offsetCount = Int(try shape.readUInt64())
                    guard offsetCount == entities + 1 else { throw TrainerError.corruptModel("feature field \(name)") }
                    try shape.require(offsetCount * 8)
                    let offsets = try (0..<offsetCount).map { _ in Int(try shape.readUInt64()) }
                    let indexCount = Int(try shape.readUInt64())
                    try shape.require(indexCount * 4)
                    let indices = try (0..<indexCount).map { _ in try shape.readInt32() }
                    guard offsets.first == 0, offsets.last == indexCount, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }),
                          indices.allSatisfy({ $0 >= 0 && Int($0) < vocabulary }) else {
                        throw TrainerError.corruptModel("feature field \(name) is inconsistent")
                    }
                    stored = FeatureField(name: name, vocabularySize: vocabulary, offsets: offsets, indices: indices)
                }
                var encoder: FeatureEncoder?
                if flags & 2 != 0 {
                    do { encoder = try FeatureEncoder.read(from: &shape) } catch let e as FeatureError {
                        throw TrainerError.corruptModel("field \(name): \(e)")
                    }
                    guard encoder!.rowCount == vocabulary else { throw TrainerError.corruptModel("field \(name): the encoder's rows do not match the table") }
                }
                fields.append(ModelField(name: name, role: role, vocabularySize: vocabulary, stored: stored, encoder: encoder))
            }
            fieldLists.append(fields)
        }
        guard shape.remaining == 0 else { throw TrainerError.corruptModel("\(shape.remaining) bytes after the fields") }
        let userIds = try readIds(try section(sections, "UIDS"), count: userCount)
        let itemIds = try readIds(try section(sections, "IIDS"), count: itemCount)
        let model = try TwoTowerModel(configuration: configuration, userIds: userIds, itemIds: itemIds,
                                      userFields: fieldLists[0], itemFields: fieldLists[1])
        if let raw = sections["SEEN"] {
            var r = BinaryReader(raw)
            guard Int(try r.readUInt64()) == userCount else { throw TrainerError.corruptModel("seen sets: user count") }
            let entries = Int(try r.readUInt64())
            try r.require((userCount + 1) * 8 + entries * 4)
            let offsets = try (0...userCount).map { _ in Int(try r.readUInt64()) }
            let items = try (0..<entries).map { _ in try r.readInt32() }
            guard r.remaining == 0, offsets.first == 0, offsets.last == entries, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }),
                  items.allSatisfy({ $0 >= 0 && Int($0) < itemCount }) else {
                throw TrainerError.corruptModel("seen sets are inconsistent")
            }
            model.seen = InteractionSequence(offsets: offsets, items: items, contextWidth: 0, context: [])
        }
        var parameters = BinaryReader(try section(sections, "PARM"))
        let buffers = model.parameterBuffers
        guard Int(try parameters.readUInt32()) == buffers.count else { throw TrainerError.corruptModel("parameter buffer count") }
        for b in buffers { try readFloats(&parameters, into: b.values, count: b.count) }
        return Loaded(model: model, dataDescription: source)
    }

    package static func readIds(_ raw: UnsafeRawBufferPointer, count: Int) throws -> [UInt64] {
        guard raw.count == count * 8 else { throw TrainerError.corruptModel("id list length") }
        var r = BinaryReader(raw)
        return try (0..<count).map { _ in try r.readUInt64() }
    }

    package static func appendFloats(_ w: inout BinaryWriter, _ values: UnsafeBufferPointer<Float>) {
        w.write(UInt64(values.count))
        w.write(bytes: Array(UnsafeRawBufferPointer(values)))
    }

    package static func readFloats(_ r: inout BinaryReader, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        guard Int(try r.readUInt64()) == count else { throw TrainerError.corruptModel("parameter buffer size") }
        let raw = try r.readBytes(count * 4)
        UnsafeMutableRawPointer(out).copyMemory(from: raw.baseAddress!, byteCount: count * 4)
        for i in 0..<count where !out[i].isFinite { throw TrainerError.corruptModel("non-finite parameter") }
    }

    // MARK: container

    package static func write(path: String, sections: [(String, [UInt8])]) throws {
        try SectionFile.write(path: path, magic: magic, version: version, facts: [],
                              sections: sections.map { SectionFile.Section(tag: $0.0, payload: .bytes($0.1)) })
    }

    /// The sections of the model file or checkpoint at `path`, its version, and the mapping
    /// they are views into (keep it alive while they are used).
    package static func readSections(path: String) throws -> ([String: UnsafeRawBufferPointer], UInt32, MappedFile) {
        let file = try MappedFile(path: path)
        guard file.count >= 12, Array(file.bytes[0..<8]) == magic else {
            throw TrainerError.corruptModel("\(path) is not a Shortlist model file")
        }
        let version = file.bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian
        if version < 3 {
            let (sections, version) = try legacySections(file)
            return (sections, version, file)
        }
        do {
            let contents = try SectionFile.read(path: path, magic: magic) { version, _ in
                guard version <= Self.version else { throw TrainerError.unsupportedVersion(found: version, supported: Self.version) }
            }
            return (contents.sections, contents.version, contents.file)
        } catch let failure as SectionFile.Failure {
            switch failure {
            case .wrongMagic: throw TrainerError.corruptModel("\(path) is not a Shortlist model file")
            case let .truncated(reason): throw TrainerError.corruptModel("\(path): truncated: \(reason)")
            case .corruptedHeader: throw TrainerError.corruptModel("\(path): header checksum mismatch")
            case let .corruptedSection(tag): throw TrainerError.corruptModel("\(path): section \(tag) checksum mismatch")
            case let .inconsistent(reason): throw TrainerError.corruptModel("\(path): \(reason)")
            }
        }
    }

    package static func section(_ sections: [String: UnsafeRawBufferPointer], _ tag: String) throws -> UnsafeRawBufferPointer {
        guard let s = sections[tag] else { throw TrainerError.corruptModel("missing section \(tag)") }
        return s
    }
}
