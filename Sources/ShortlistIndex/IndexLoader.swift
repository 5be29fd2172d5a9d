import ShortlistCore

/// Opens any index file, whatever its kind. Files are mapped private and writable: an HNSW index
/// uses its rows, codes and links in place (processes opening one file share those pages until
/// one of them writes), the other kinds copy what they need.
public enum IndexLoader {
    /// Loads and verifies the index at `path` (refusing truncated, corrupted or newer-version files).
    public static func load(path: String) throws -> any VectorIndex {
        try load(IndexFile.read(path: path, copyOnWrite: true))
    }

    /// The index at `path` and the tuning table stored with it (nil when untuned), from one read.
    public static func loadTuned(path: String) throws -> (index: any VectorIndex, tuning: TuningTable?) {
        let contents = try IndexFile.read(path: path, copyOnWrite: true)
        return (try load(contents), try TuningTable(contents))
    }

    /// `loadTuned`, with the bytes of the section `tag` that the index kinds do not read (a
    /// server's own section; nil when the file has none).
    public static func loadTuned(path: String, extraSection tag: String) throws -> (index: any VectorIndex, tuning: TuningTable?, extra: [UInt8]?) {
        let contents = try IndexFile.read(path: path, copyOnWrite: true)
        return (try load(contents), try TuningTable(contents), contents.sections[tag].map { Array($0) })
    }

    static func load(_ contents: IndexFile.Contents) throws -> any VectorIndex {
        switch contents.header.kind {
        case .flat: return try FlatIndex.load(contents)
        case .hnsw: return try HNSWIndex.load(contents)
        case .ivfpq: return try IVFPQIndex.load(contents)
        }
    }
}
