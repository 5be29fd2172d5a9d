/// A condition on items' payload fields and ids (the shape Qdrant users know): a boolean group of
/// `must` (all hold), `should` (at least one holds, when there are any) and `must_not` (none
/// holds) over field conditions and nested groups. Evaluated by `PayloadIndex`.
public indirect enum PayloadFilter: Equatable, Sendable {
    /// must ∧ (should₁ ∨ … when any) ∧ ¬must_not₁ ∧ …
    case group(must: [PayloadFilter], should: [PayloadFilter], mustNot: [PayloadFilter])
    /// The field holds one of `values` (a list field: any element does).
    case match(field: String, values: [PayloadValue])
    /// The field holds a number within the bounds (each optional; `gt`/`lt` exclusive).
    case range(field: String, gt: Double?, gte: Double?, lt: Double?, lte: Double?)
    /// The field is missing, null or an empty list.
    case isNull(field: String)
    /// The item's id is one of these.
    case hasId(Set<UInt64>)

    /// Every field the filter reads.
    public var fields: Set<String> {
        switch self {
        case let .group(must, should, mustNot): return (must + should + mustNot).reduce(into: Set<String>()) { $0.formUnion($1.fields) }
        case let .match(field, _), let .range(field, _, _, _, _), let .isNull(field): return [field]
        case .hasId: return []
        }
    }
}

/// One scalar of a payload field: a string, a number or a boolean.
public enum PayloadValue: Hashable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)

    /// The value as text: a string itself, an integral number without a fraction, `true` / `false`.
    public var text: String {
        switch self {
        case let .string(s): return s
        case let .number(x): return x.rounded() == x && abs(x) < 1e15 ? String(Int64(x)) : String(x)
        case let .bool(b): return b ? "true" : "false"
        }
    }
}
