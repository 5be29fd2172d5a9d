import ShortlistCore

/// IVF-PQ in the v1 index file: `META` (nlist, m, bits, refine, training settings), `CENT`
/// (nlist × dimension f32), `PQCB` (m × 2^bits × dimension/m f32), `LSIZ` (nlist u32 list sizes),
/// `CODE` (every list's codes, list after list: m bytes each for 8 bits; for 4 bits the list's
/// `FastScanLayout` blocks, ⌈size/32⌉ × mpad × 16 bytes), `LROW` (their rows, u32),
/// `IDS `, `TOMB` (u8 per row), with `Refine` `VECS` (rows × dimension f32, rotated with OPQ),
/// and with OPQ `ROTA` (dimension × dimension f32, row-major: rotated = x · R). A coarse HNSW
/// graph is not stored: it is rebuilt from the centroids on load, identically (one thread, fixed seed).
/// From a private writable mapping (`IndexLoader`), `VECS` is used in place; the rest is copied.
extension IVFPQIndex {
    public func fileDocument(extraSections: [IndexFile.Section]) -> IndexFile.Document {
        var meta = IndexMetadata()
        meta["spec"] = spec.description
        meta["writer"] = IndexMetadata.writerVersion
        meta["nlist"] = String(configuration.nlist)
        meta["m"] = String(configuration.m)
        meta["bits"] = String(configuration.bits)
        meta["coarse_hnsw"] = String(configuration.coarseHNSW)
        meta["refine"] = configuration.refine ? "1" : "0"
        meta["opq"] = configuration.opq ? "1" : "0"
        meta["iterations"] = String(configuration.iterations)
        meta["coarse_iterations"] = String(configuration.coarseIterations)
        meta["seed"] = String(configuration.seed)
        meta["live"] = String(count)
        var sizes = BinaryWriter()
        for l in listRows { sizes.write(UInt32(l.count)) }
        var rowsBytes = BinaryWriter()
        for l in listRows { for r in l { rowsBytes.write(r) } }
        var sections = [
            IndexFile.Section(tag: "META", payload: .bytes(meta.encoded())),
            IndexFile.Section(tag: "CENT", payload: .vectors(centroids)),
            IndexFile.Section(tag: "PQCB", payload: .bytes(pq.codebooks.withUnsafeBytes { Array($0) })),
            IndexFile.Section(tag: "LSIZ", payload: .bytes(sizes.bytes)),
            IndexFile.Section(tag: "CODE", payload: .bytes(listCodes.flatMap { $0 })),
            IndexFile.Section(tag: "LROW", payload: .bytes(rowsBytes.bytes)),
            IndexFile.Section(tag: "IDS ", payload: .uint64s(idMap.ids)),
            IndexFile.Section(tag: "TOMB", payload: .bytes(tombstones)),
        ]
        if let vectors { sections.append(IndexFile.Section(tag: "VECS", payload: .vectors(vectors))) }
        if let rotation { sections.append(IndexFile.Section(tag: "ROTA", payload: .bytes(rotation.matrix.withUnsafeBytes { Array($0) }))) }
        return IndexFile.Document(header: IndexFile.Header(kind: .ivfpq, metric: metric, dimension: dimension, count: rows),
                            sections: sections + extraSections)
    }

    static func load(_ contents: IndexFile.Contents) throws -> IVFPQIndex {
        let h = contents.header, path = contents.path, d = h.dimension, n = h.count
        func bad(_ reason: String) -> IndexFileError { .inconsistent(path: path, reason: reason) }
        let meta = try IndexMetadata(decoding: try contents.section("META"), path: path)
        guard let nlist = meta["nlist"].flatMap({ Int($0) }), let m = meta["m"].flatMap({ Int($0) }),
              let iterations = meta["iterations"].flatMap({ Int($0) }), let seed = meta["seed"].flatMap({ UInt64($0) }),
              IVFPQConfiguration.nlistRange.contains(nlist), IVFPQConfiguration.mRange.contains(m), d % m == 0 else {
            throw bad("META lacks valid nlist, m, iterations or seed")
        }
        let refine = meta["refine"] == "1", opq = meta["opq"] == "1"
        // Files written before 4-bit codes existed have no "bits": they are 8-bit.
        let bits = meta["bits"].map { Int($0) ?? -1 } ?? 8
        guard bits == 8 || (bits == 4 && m <= FastScanLayout.maxM) else { throw bad("META bits \(meta["bits"] ?? "") with m \(m)") }
        // Files from before the split used one count for both.
        guard let coarseIterations = meta["coarse_iterations"].map({ Int($0) }) ?? iterations else { throw bad("META coarse_iterations") }
        // Files from before the coarse graph have no "coarse_hnsw": exact coarse search.
        let coarseHNSW = meta["coarse_hnsw"].map { Int($0) ?? -1 } ?? 0
        guard coarseHNSW == 0 || HNSWConfiguration.mRange.contains(coarseHNSW) else { throw bad("META coarse_hnsw \(coarseHNSW)") }
        let configuration = IVFPQConfiguration(nlist: nlist, m: m, bits: bits, refine: refine, opq: opq, coarseHNSW: coarseHNSW,
                                               iterations: iterations, coarseIterations: coarseIterations, seed: seed)
        var rotation: OPQRotation?
        if opq {
            let r = try contents.section("ROTA")
            guard r.count == d * d * 4 else { throw bad("ROTA holds \(r.count) bytes for \(d) × \(d)") }
            let matrix = (0..<d * d).map { Float(bitPattern: UInt32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            guard matrix.allSatisfy(\.isFinite) else { throw bad("non-finite rotation") }
            rotation = OPQRotation(dimension: d, matrix: matrix)
        }
        let cent = try contents.section("CENT"), cb = try contents.section("PQCB"), sizes = try contents.section("LSIZ")
        let codes = try contents.section("CODE"), lrow = try contents.section("LROW"), ids = try contents.section("IDS ")
        let tomb = try contents.section("TOMB")
        let k = 1 << bits
        guard cent.count == nlist * d * 4, cb.count == m * k * (d / m) * 4, sizes.count == nlist * 4,
              ids.count == n * 8, tomb.count == n, lrow.count == n * 4 else {
            throw bad("section sizes do not match nlist \(nlist), m \(m), \(n) rows")
        }
        let listSizes = (0..<nlist).map { Int(UInt32(littleEndian: sizes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        // Bytes of one list's codes.
        func codeBytes(_ size: Int) -> Int { bits == 4 ? FastScanLayout.byteCount(codes: size, m: m) : size * m }
        guard listSizes.reduce(0, +) == n else { throw bad("lists hold \(listSizes.reduce(0, +)) rows, the header says \(n)") }
        let expectedCodeBytes = listSizes.reduce(0) { $0 + codeBytes($1) }
        guard codes.count == expectedCodeBytes else { throw bad("CODE holds \(codes.count) bytes, not the lists' codes") }
        let centroids = try VectorMatrix(count: nlist, dimension: d)
        UnsafeMutableRawPointer(centroids.baseAddress).copyMemory(from: cent.baseAddress!, byteCount: cent.count)
        let codebooks = (0..<m * k * (d / m)).map { Float(bitPattern: UInt32(littleEndian: cb.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        guard codebooks.allSatisfy(\.isFinite), centroids.firstNonFinite() == nil else { throw bad("non-finite centroids or codebooks") }
        let pq = try ProductQuantizer(dimension: d, m: m, bits: bits, codebooks: codebooks)
        var listCodes: [[UInt8]] = [], listRows: [[UInt32]] = []
        var offset = 0, codeOffset = 0
        var seen = [Bool](repeating: false, count: n)
        for l in 0..<nlist {
            let size = listSizes[l]
            listCodes.append(Array(codes[codeOffset..<codeOffset + codeBytes(size)]))
            codeOffset += codeBytes(size)
            var rowsOfList: [UInt32] = []
            rowsOfList.reserveCapacity(size)
            for i in offset..<offset + size {
                let r = UInt32(littleEndian: lrow.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                guard Int(r) < n, !seen[Int(r)] else { throw bad("list \(l) holds row \(r) twice or out of range") }
                seen[Int(r)] = true
                rowsOfList.append(r)
            }
            listRows.append(rowsOfList)
            offset += size
        }
        guard offset == n else { throw bad("lists hold \(offset) rows, the header says \(n)") }
        let tombstones = Array(tomb)
        guard tombstones.allSatisfy({ $0 <= 1 }) else { throw bad("tombstones other than 0 and 1") }
        var idList = [UInt64](repeating: 0, count: n)
        for i in 0..<n { idList[i] = UInt64(littleEndian: ids.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        let idMap: IdMap
        do { idMap = try IdMap(ids: idList, isLive: { tombstones[$0] == 0 }) } catch { throw bad("\(error)") }
        var vectors: VectorMatrix?
        if refine {
            let v = try contents.section("VECS")
            guard v.count == n * d * 4 else { throw bad("VECS holds \(v.count) bytes for \(n) × \(d)") }
            let matrix: VectorMatrix
            if n > 0 && contents.file.copyOnWrite && Int(bitPattern: v.baseAddress!) % 64 == 0 {
                // Used in place: pages are shared with every process that maps the file, until written.
                let base = UnsafeMutableRawPointer(mutating: v.baseAddress!).bindMemory(to: Float.self, capacity: n * d)
                matrix = try VectorMatrix(borrowing: base, count: n, dimension: d, from: contents.file)
            } else {
                matrix = try VectorMatrix(count: n, dimension: d)
                if n > 0 { UnsafeMutableRawPointer(matrix.baseAddress).copyMemory(from: v.baseAddress!, byteCount: v.count) }
            }
            guard matrix.firstNonFinite() == nil else { throw bad("non-finite stored vectors") }
            vectors = matrix
        }
        if vectors?.mapping != nil { contents.file.dropSequentialHint() }
        return try IVFPQIndex(metric: h.metric, dimension: d, configuration: configuration, rotation: rotation, centroids: centroids, pq: pq,
                              listCodes: listCodes, listRows: listRows, vectors: vectors, tombstones: tombstones, idMap: idMap)
    }
}
