/// Indexes of payload fields, kept in step with every payload change: per field an inverted
/// index (value → ids) for `match`, a column (id → numbers) for `range`, and the ids that hold
/// the field for `is_null`. Every top-level field of every payload is indexed (strings, numbers,
/// booleans, and the scalars of lists; objects and nulls count as no value). A value type, so
/// a snapshot copies it for free until the next change.
public struct PayloadIndex: Sendable {
    private var inverted: [String: [PayloadValue: Set<UInt64>]] = [:]
    private var numbers: [String: [UInt64: [Double]]] = [:]
    private var present: [String: Set<UInt64>] = [:]
    /// What each id holds, to undo it on change.
    private var fieldsOf: [UInt64: [String: [PayloadValue]]] = [:]

    public init() {}

    /// The fields some payload holds.
    public var fieldNames: [String] { present.keys.sorted() }

    /// The scalars `id` holds in `field` (empty when none).
    public func values(_ field: String, of id: UInt64) -> [PayloadValue] { fieldsOf[id]?[field] ?? [] }

    /// Replaces what `id` holds with `fields` (field → its scalars; empty: the field is null).
    public mutating func set(_ id: UInt64, fields: [String: [PayloadValue]]) {
        remove(id)
        guard !fields.isEmpty else { return }
        fieldsOf[id] = fields
        for (field, values) in fields where !values.isEmpty {
            present[field, default: []].insert(id)
            for v in values {
                inverted[field, default: [:]][v, default: []].insert(id)
                if case let .number(x) = v { numbers[field, default: [:]][id, default: []].append(x) }
            }
        }
    }

    /// Forgets `id`.
    public mutating func remove(_ id: UInt64) {
        guard let old = fieldsOf.removeValue(forKey: id) else { return }
        for (field, values) in old where !values.isEmpty {
            present[field]?.remove(id)
            if present[field]?.isEmpty == true { present[field] = nil }
            for v in values {
                inverted[field]?[v]?.remove(id)
                if inverted[field]?[v]?.isEmpty == true { inverted[field]?[v] = nil }
            }
            numbers[field]?[id] = nil
        }
    }

    /// Why a filter cannot be evaluated.
    public enum FilterError: Error, Equatable, CustomStringConvertible {
        /// No payload has this field.
        case unknownField(String, known: [String])
        public var description: String {
            switch self {
            case let .unknownField(field, known):
                return "no payload has field '\(field)'" + (known.isEmpty ? "; the collection's payloads have no fields" : "; fields: \(known.prefix(20).joined(separator: ", "))")
            }
        }
    }

    /// The ids of `universe` (the live items) that pass `filter`. Throws for a field no payload has.
    public func evaluate(_ filter: PayloadFilter, universe: Set<UInt64>) throws -> Set<UInt64> {
        for field in filter.fields where present[field] == nil && inverted[field] == nil {
            throw FilterError.unknownField(field, known: fieldNames)
        }
        return passing(filter, universe: universe)
    }

    private func passing(_ filter: PayloadFilter, universe: Set<UInt64>) -> Set<UInt64> {
        switch filter {
        case let .group(must, should, mustNot):
            var result = universe
            for f in must { result.formIntersection(passing(f, universe: result)) }
            if !should.isEmpty {
                var any = Set<UInt64>()
                for f in should { any.formUnion(passing(f, universe: result)) }
                result.formIntersection(any)
            }
            for f in mustNot { result.subtract(passing(f, universe: result)) }
            return result
        case let .match(field, values):
            var out = Set<UInt64>()
            for v in values {
                if let ids = inverted[field]?[v] { out.formUnion(ids) }
                // Integers match whether stored as numbers or sent as strings, and the other way.
                if case let .string(s) = v, let x = Double(s), let ids = inverted[field]?[.number(x)] { out.formUnion(ids) }
                if case .number = v, let ids = inverted[field]?[.string(v.text)] { out.formUnion(ids) }
            }
            return out.intersection(universe)
        case let .range(field, gt, gte, lt, lte):
            guard let column = numbers[field] else { return [] }
            var out = Set<UInt64>()
            for (id, xs) in column where universe.contains(id) {
                if xs.contains(where: { x in
                    (gt.map { x > $0 } ?? true) && (gte.map { x >= $0 } ?? true) && (lt.map { x < $0 } ?? true) && (lte.map { x <= $0 } ?? true)
                }) { out.insert(id) }
            }
            return out
        case let .isNull(field):
            return universe.subtracting(present[field] ?? [])
        case let .hasId(set):
            return universe.intersection(set)
        }
    }

}
