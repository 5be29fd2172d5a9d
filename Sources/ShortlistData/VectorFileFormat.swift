/// The vector file formats Shortlist reads and writes.
public enum VectorFileFormat: String, CaseIterable, Sendable {
    /// Per row: int32 `d`, then `d` float32 (little-endian): the texmex / ANN-benchmarks layout.
    case fvecs
    /// Per row: int32 `d`, then `d` int32.
    case ivecs
    /// Per row: int32 `d`, then `d` uint8.
    case bvecs
    /// NumPy `.npy`, a 2-D C-order array of float32, float64 or float16.
    case npy
    /// One JSON object per line: `{"id": <uint64>, "vector": [...]}` (a `"payload"` member is skipped).
    case jsonl

    /// The format named by `path`'s extension, or nil.
    public init?(path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        self.init(rawValue: path[path.index(after: dot)...].lowercased())
    }
}
