/// Why an index file was refused. Nothing is loaded half-way: any of these means no index.
public enum IndexFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with Shortlist's magic bytes.
    case notAnIndexFile(path: String)
    /// The file was written by a newer format version than this build reads.
    case newerVersion(path: String, found: UInt32, supported: UInt32)
    /// The file's format version is not one this build reads.
    case unsupportedVersion(path: String, found: UInt32)
    /// The fixed header's checksum does not match: the header is corrupted.
    case corruptedHeader(path: String)
    /// A section's header or payload checksum does not match.
    case corruptedSection(path: String, tag: String)
    /// The file ends before the data its header announces.
    case truncated(path: String, reason: String)
    /// A section the index kind requires is absent.
    case missingSection(path: String, tag: String)
    /// The header names an index kind this build does not know.
    case unknownKind(path: String, code: UInt32)
    /// The header names a metric this build does not know.
    case unknownMetric(path: String, code: UInt32)
    /// The sections disagree with each other or with the header.
    case inconsistent(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notAnIndexFile(path): return "\(path): not a Shortlist index file (bad magic bytes)"
        case let .newerVersion(path, found, supported):
            return "\(path): written in index format v\(found) by a newer Shortlist; this build reads up to v\(supported). Upgrade Shortlist."
        case let .unsupportedVersion(path, found): return "\(path): unsupported index format version \(found)"
        case let .corruptedHeader(path): return "\(path): corrupted header (checksum mismatch)"
        case let .corruptedSection(path, tag): return "\(path): corrupted section '\(tag)' (checksum mismatch)"
        case let .truncated(path, reason): return "\(path): truncated: \(reason)"
        case let .missingSection(path, tag): return "\(path): missing required section '\(tag)'"
        case let .unknownKind(path, code): return "\(path): unknown index kind \(code)"
        case let .unknownMetric(path, code): return "\(path): unknown metric code \(code)"
        case let .inconsistent(path, reason): return "\(path): inconsistent contents: \(reason)"
        }
    }
}
