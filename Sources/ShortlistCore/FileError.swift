/// Errors opening, reading or writing files. Every case names the file.
public enum FileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not exist.
    case notFound(path: String)
    /// The file exists but could not be opened (permissions, a directory, …).
    case cannotOpen(path: String, reason: String)
    /// Reading failed part-way.
    case readFailed(path: String, reason: String)
    /// Writing, syncing or renaming failed; the previous file (if any) is untouched.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(path): return "\(path): no such file"
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .readFailed(path, reason): return "\(path): read failed: \(reason)"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        }
    }
}
