/// Why a feature column, encoder or value was refused.
public enum FeatureError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A feature schema (file, inferred, or stored in a model) is malformed, or a value does not
    /// fit its column.
    case badSchema(reason: String)

    public var description: String {
        switch self {
        case let .badSchema(reason): return "bad feature schema: \(reason)"
        }
    }
}
