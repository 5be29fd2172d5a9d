import ShortlistFeatures

/// What an input field of a tower carries.
public enum FieldRole: UInt8, Sendable, CaseIterable {
    /// A property of the user or item (genres, age): stored per known entity, or sent in a
    /// request (`features`).
    case attribute = 0
    /// The user's latest items (item rows), oldest first, pooled with recency weights.
    case history = 1
    /// A property of the moment of the request (hour, device): `context`.
    case context = 2
    /// One learned row added to every input: the direction of "nothing known".
    case bias = 3

    var name: String {
        switch self {
        case .attribute: return "feature"
        case .history: return "history"
        case .context: return "context"
        case .bias: return "bias"
        }
    }
}

/// One input field of a tower: its embedding table's size, where its rows come from, and how
/// a request's raw values become rows.
package struct ModelField: Sendable, Equatable {
    package let name: String
    package let role: FieldRole
    package let vocabularySize: Int
    /// attribute: the rows of every known entity (one bag per user or item row); nil when the
    /// field is only ever sent with requests.
    package let stored: FeatureField?
    /// attribute / context: encodes request values; nil for fields built without a schema
    /// (they cannot be sent in a request).
    package let encoder: FeatureEncoder?

    package init(name: String, role: FieldRole, vocabularySize: Int, stored: FeatureField?, encoder: FeatureEncoder?) {
        self.name = name
        self.role = role
        self.vocabularySize = vocabularySize
        self.stored = stored
        self.encoder = encoder
    }

    package static func bias() -> ModelField {
        ModelField(name: "bias", role: .bias, vocabularySize: 1, stored: nil, encoder: nil)
    }
}
