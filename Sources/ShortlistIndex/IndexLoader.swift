import ShortlistCore

/// Opens any index file, whatever its kind.
public enum IndexLoader {
    /// Loads and verifies the index at `path` (refusing truncated, corrupted or newer-version files).
    public static func load(path: String) throws -> any VectorIndex {
        let contents = try IndexFile.read(path: path)
        switch contents.header.kind {
        case .flat: return try FlatIndex.load(contents)
        case .hnsw: return try HNSWIndex.load(contents)
        case .ivfpq: return try IVFPQIndex.load(contents)
        }
    }
}
