import ShortlistCore

/// HNSW in the v1 index file: `META` (settings, entry point, top level, the inner-product M,
/// storage and float16 scale), `VECS` (rows × stored dimension float32) or `VECH` (the same in
/// float16, values × scale), `IDS `, `LVLS` (u8 per row), `LNK0` (rows × (2m+1) u32),
/// `LNKU` (upper-layer lists, u32, in row order) and `TOMB` (u8 per row, 1 = deleted); for
/// storage `sq8` also `SQ8R` (the code ranges: stored dimension float32 lowers, then as many
/// steps; META's `sq8_fitted_rows` says how many rows they were fitted on), and once fitted
/// `SQ8C` (rows × code stride u8 codes) and `SQ8N` (rows × f32 decoded norms), the walk's
/// own data, so opening a file encodes nothing. `INPR` (u32 per row of the build's input: the
/// row it went to), when the build renumbered its rows for locality; without it, input row r is
/// row r (files written before renumbering).
extension HNSWIndex {
    public func fileDocument(extraSections: [IndexFile.Section]) -> IndexFile.Document {
        var meta = IndexMetadata()
        meta["spec"] = spec.description
        meta["writer"] = IndexMetadata.writerVersion
        meta["m"] = String(m)
        meta["ef_construction"] = String(configuration.efConstruction)
        meta["seed"] = String(configuration.seed)
        meta["entry_point"] = String(entryPoint)
        meta["max_level"] = String(maxLevel)
        meta["stored_dimension"] = String(storedDimension)
        meta["ip_max_norm_bits"] = String(ipMaxNorm.bitPattern)
        meta["live"] = String(count)
        meta["storage"] = configuration.storage.rawValue
        meta["scale_bits"] = String(store.scale.bitPattern)
        if configuration.storage == .sq8 { meta["sq8_fitted_rows"] = String(store.codeFittedRows) }
        let n = rows
        var codeRanges: [IndexFile.Section] = []
        if configuration.storage == .sq8 {
            codeRanges.append(IndexFile.Section(tag: "SQ8R", payload: .bytes(store.codeRangeFloats.withUnsafeBytes { Array($0) })))
            if store.codeFittedRows > 0 {
                codeRanges.append(IndexFile.Section.copy(tag: "SQ8C", of: store.storedCodes))
                codeRanges.append(IndexFile.Section.copy(tag: "SQ8N", of: store.storedCodeNorms))
            }
        }
        let inputOrder = inputRows.map { [IndexFile.Section(tag: "INPR", payload: .bytes($0.withUnsafeBytes { Array($0) }))] } ?? []
        return IndexFile.Document(
            header: IndexFile.Header(kind: .hnsw, metric: metric, dimension: dimension, count: n),
            sections: [
                IndexFile.Section(tag: "META", payload: .bytes(meta.encoded())),
                IndexFile.Section.copy(tag: configuration.storage == .float32 ? "VECS" : "VECH", of: store.storedBytes),
                IndexFile.Section(tag: "IDS ", payload: .uint64s(idMap.ids)),
                IndexFile.Section(tag: "LVLS", payload: .bytes(Array(UnsafeBufferPointer(start: levels, count: n)))),
                IndexFile.Section.copy(tag: "LNK0", of: UnsafeRawBufferPointer(start: level0, count: n * (m0 + 1) * 4)),
                IndexFile.Section.copy(tag: "LNKU", of: UnsafeRawBufferPointer(start: upperLinks, count: upperCount * 4)),
                IndexFile.Section(tag: "TOMB", payload: .bytes(Array(UnsafeBufferPointer(start: tombstones, count: n)))),
            ] + codeRanges + inputOrder + extraSections)
    }

    /// Rebuilds an HNSW index from a checked file, validating every link so that a file that
    /// passes its checksums but disagrees with itself is refused, never followed out of bounds.
    static func load(_ contents: IndexFile.Contents) throws -> HNSWIndex {
        let h = contents.header, path = contents.path
        func bad(_ reason: String) -> IndexFileError { .inconsistent(path: path, reason: reason) }
        let meta = try IndexMetadata(decoding: try contents.section("META"), path: path)
        func int(_ key: String) throws -> Int {
            guard let v = meta[key].flatMap({ Int($0) }) else { throw bad("META lacks a valid '\(key)'") }
            return v
        }
        let m = try int("m"), efc = try int("ef_construction"), storedDimension = try int("stored_dimension")
        let entry = try int("entry_point"), top = try int("max_level")
        guard let seed = meta["seed"].flatMap({ UInt64($0) }), let normBits = meta["ip_max_norm_bits"].flatMap({ UInt32($0) }) else {
            throw bad("META lacks seed or ip_max_norm_bits")
        }
        guard let storage = VectorStorage(rawValue: meta["storage"] ?? VectorStorage.float32.rawValue),
              let scaleBits = UInt32(meta["scale_bits"] ?? "1065353216") else { throw bad("META storage or scale_bits") }
        let scale = Float(bitPattern: scaleBits)
        guard scale.isFinite, scale > 0, storage != .float32 || scale == 1 else { throw bad("scale \(scale)") }
        let configuration = HNSWConfiguration(m: m, efConstruction: efc, seed: seed, storage: storage)
        do { try configuration.validate() } catch { throw bad("\(error)") }
        guard storedDimension == h.dimension + (h.metric == .ip ? 1 : 0) else { throw bad("stored dimension \(storedDimension)") }
        let n = h.count
        let vecs = try contents.section(storage == .float32 ? "VECS" : "VECH"), ids = try contents.section("IDS "), lvls = try contents.section("LVLS")
        let lnk0 = try contents.section("LNK0"), lnku = try contents.section("LNKU"), tomb = try contents.section("TOMB")
        let m0 = 2 * m
        guard vecs.count == n * storedDimension * (storage == .float32 ? 4 : 2), ids.count == n * 8, lvls.count == n, tomb.count == n,
              lnk0.count == n * (m0 + 1) * 4, lnku.count % 4 == 0 else {
            throw bad("section sizes do not match \(n) rows")
        }
        guard (n == 0 && entry == -1 && top == -1) || (entry >= 0 && entry < n && top >= 0 && top <= maximumLevel) else {
            throw bad("entry point \(entry) / top level \(top) for \(n) rows")
        }
        // Rows, codes and layer-0 links are used in place when the file is mapped private and
        // writable (IndexLoader); otherwise copied.
        let inPlace = contents.file.copyOnWrite && n > 0
        let store = HNSWVectorStore(storage: storage, dimension: storedDimension, capacity: inPlace ? 1 : n)
        let fitted = storage == .sq8 ? meta["sq8_fitted_rows"].flatMap({ Int($0) }) ?? 0 : 0
        if inPlace {
            store.adopt(rows: n, bytes: vecs, scale: scale, mapping: contents.file, codesFollow: fitted > 0)
        } else {
            store.load(rows: n, bytes: vecs, scale: scale)
        }
        if let r = store.firstNonFiniteRow() { throw bad("row \(r) holds a NaN or infinite value") }
        if storage == .sq8 { try loadCodeRanges(contents, meta: meta, into: store, bad: bad) }
        var idList = [UInt64](repeating: 0, count: n)
        for i in 0..<n { idList[i] = UInt64(littleEndian: ids.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        let deleted = { (r: Int) in tomb[r] != 0 }
        let idMap: IdMap
        do { idMap = try IdMap(ids: idList, isLive: { !deleted($0) }) } catch { throw bad("\(error)") }
        for r in 0..<n {
            guard lvls[r] <= maximumLevel, tomb[r] <= 1 else { throw bad("row \(r): level \(lvls[r]) or tombstone \(tomb[r])") }
        }
        func mutable<T>(_ section: UnsafeRawBufferPointer, _: T.Type) -> UnsafeMutablePointer<T> {
            UnsafeMutableRawPointer(mutating: section.baseAddress!).bindMemory(to: T.self, capacity: section.count / MemoryLayout<T>.stride)
        }
        let mapped = inPlace ? MappedGraph(level0: mutable(lnk0, UInt32.self), levels: mutable(lvls, UInt8.self),
                                           tombstones: mutable(tomb, UInt8.self), mapping: contents.file) : nil
        let index = HNSWIndex(metric: h.metric, dimension: h.dimension, configuration: configuration, store: store, idMap: idMap, mapped: mapped)
        index.ipMaxNorm = Float(bitPattern: normBits)
        for r in 0..<n {
            if !inPlace {
                index.levels[r] = lvls[r]
                index.tombstones[r] = tomb[r]
            }
            if tomb[r] != 0 { index.deletedCount += 1 }
        }
        guard n == 0 || Int(index.levels[entry]) == top else { throw bad("entry point is not on the top level") }
        index.layOutUpperLinks(from: 0)
        guard index.upperCount * 4 == lnku.count else { throw bad("LNKU holds \(lnku.count / 4) links, levels need \(index.upperCount)") }
        if n > 0 && !inPlace { UnsafeMutableRawPointer(index.level0).copyMemory(from: lnk0.baseAddress!, byteCount: lnk0.count) }
        if index.upperCount > 0 { UnsafeMutableRawPointer(index.upperLinks).copyMemory(from: lnku.baseAddress!, byteCount: lnku.count) }
        for r in 0..<n {
            for level in 0...Int(index.levels[r]) {
                let list = index.links(r, level)
                let capacity = level == 0 ? m0 : m
                guard Int(list[0]) <= capacity else { throw bad("row \(r) level \(level) has \(list[0]) links (max \(capacity))") }
                for j in 0..<Int(list[0]) {
                    let target = Int(list[1 + j])
                    guard target < n, Int(index.levels[target]) >= level else { throw bad("row \(r) level \(level) links to \(target)") }
                }
            }
        }
        index.entryPoint = Int32(entry)
        index.maxLevel = top
        if let order = contents.sections["INPR"] {
            // A permutation of rows, for the rows there were when it was built.
            guard order.count % 4 == 0, order.count / 4 <= n else { throw bad("INPR holds \(order.count) bytes for \(n) rows") }
            var taken = [Bool](repeating: false, count: n)
            var rows = [UInt32](repeating: 0, count: order.count / 4)
            for i in rows.indices {
                let r = UInt32(littleEndian: order.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                guard Int(r) < n, !taken[Int(r)] else { throw bad("INPR sends input row \(i) to row \(r), out of range or taken") }
                taken[Int(r)] = true
                rows[i] = r
            }
            index.inputRows = rows
        }
        if inPlace { contents.file.dropSequentialHint() }
        return index
    }

    /// Reads `SQ8R` and rebuilds the codes from the rows with those ranges.
    private static func loadCodeRanges(_ contents: IndexFile.Contents, meta: IndexMetadata, into store: HNSWVectorStore,
                                       bad: (String) -> IndexFileError) throws {
        let d = store.dimension
        guard let fitted = meta["sq8_fitted_rows"].flatMap({ Int($0) }), fitted >= 0 else { throw bad("META lacks a valid 'sq8_fitted_rows'") }
        let ranges = try contents.section("SQ8R")
        guard ranges.count == 2 * d * 4 else { throw bad("SQ8R holds \(ranges.count) bytes, expected \(2 * d * 4)") }
        let values = (0..<2 * d).map { Float(bitPattern: UInt32(littleEndian: ranges.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        guard values.allSatisfy(\.isFinite), values[d...].allSatisfy({ $0 >= 0 }) else { throw bad("SQ8R holds a non-finite value or a negative step") }
        guard fitted > 0 else { return store.setCodeRanges(lower: Array(values[..<d]), step: Array(values[d...]), fittedRows: 0) }
        let codes = try contents.section("SQ8C"), norms = try contents.section("SQ8N")
        guard codes.count == store.count * store.codeStride, norms.count == store.count * 4 else {
            throw bad("SQ8C / SQ8N hold \(codes.count) / \(norms.count) bytes for \(store.count) rows of \(store.codeStride) codes")
        }
        for r in 0..<store.count {
            let norm = Float(bitPattern: UInt32(littleEndian: norms.loadUnaligned(fromByteOffset: 4 * r, as: UInt32.self)))
            guard norm.isFinite, norm >= 0 else { throw bad("SQ8N row \(r) holds \(norm)") }
        }
        if contents.file.copyOnWrite && store.count > 0 {
            store.adoptCodes(lower: Array(values[..<d]), step: Array(values[d...]), fittedRows: fitted, codes: codes, norms: norms, mapping: contents.file)
        } else {
            store.loadCodes(lower: Array(values[..<d]), step: Array(values[d...]), fittedRows: fitted, codes: codes, norms: norms)
        }
    }
}
