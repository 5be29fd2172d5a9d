import ShortlistCore

/// Vectors read from a file: a `count × dimension` matrix and, for formats that carry them
/// (`.jsonl`), the external id of each row.
public struct VectorFile: @unchecked Sendable {
    /// The vectors, row-major.
    public var matrix: VectorMatrix
    /// The external id of each row, when the file names them; nil means "row number".
    public var ids: [UInt64]?

    public init(matrix: VectorMatrix, ids: [UInt64]? = nil) {
        self.matrix = matrix
        self.ids = ids
    }

    /// Reads any supported format, chosen by extension. Refuses truncated files, ragged rows,
    /// wrong headers and non-finite values with the file name, row and reason.
    public static func read(path: String, progress: ProgressHandler? = nil) throws -> VectorFile {
        guard let format = VectorFileFormat(path: path) else { throw VectorFileError.unknownFormat(path: path) }
        let file = try MappedFile(path: path)
        switch format {
        case .fvecs: return VectorFile(matrix: try TexmexFormat.readFloats(file, element: .float32, progress: progress))
        case .ivecs: return VectorFile(matrix: try TexmexFormat.readFloats(file, element: .int32, progress: progress))
        case .bvecs: return VectorFile(matrix: try TexmexFormat.readFloats(file, element: .uint8, progress: progress))
        case .npy: return VectorFile(matrix: try NPYFormat.read(file))
        case .jsonl: return try JSONLinesFormat.read(file, progress: progress)
        }
    }

    /// Writes `matrix` in the format named by `path`'s extension (`.fvecs`, `.npy`), atomically.
    public static func write(_ matrix: VectorMatrix, to path: String) throws {
        switch VectorFileFormat(path: path) {
        case .fvecs: try TexmexFormat.writeFvecs(matrix, to: path)
        case .npy: try NPYFormat.write(matrix, to: path)
        default: throw VectorFileError.unknownFormat(path: path)
        }
    }
}
