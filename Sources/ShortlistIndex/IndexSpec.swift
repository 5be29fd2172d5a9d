/// A parsed index description string, FAISS-style: comma-separated components, e.g. `"Flat"`.
///
/// Parsing lives only here; `description` gives back the canonical string, so
/// `IndexSpec(parsing: s).description` round-trips.
public enum IndexSpec: Equatable, Sendable, CustomStringConvertible {
    /// Exact search: every query is compared with every vector (SIMD scan; BLAS for batches).
    case flat

    /// Parses a spec string (case-insensitive, spaces ignored).
    public init(parsing text: String) throws {
        let cleaned = text.filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard !cleaned.isEmpty else { throw IndexError.invalidSpec(text, reason: "the spec is empty") }
        switch parts {
        case ["flat"]:
            self = .flat
        default:
            throw IndexError.invalidSpec(text, reason: "this build supports: Flat")
        }
    }

    public var description: String {
        switch self {
        case .flat: return "Flat"
        }
    }

    /// The kind of index this spec builds.
    public var kind: IndexKind {
        switch self {
        case .flat: return .flat
        }
    }
}
