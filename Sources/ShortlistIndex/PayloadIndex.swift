import Synchronization

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

    /// What a field holds, inferred from the payloads (for `info`).
    public struct FieldSummary: Equatable, Sendable {
        /// `keyword`, `keyword_list`, `integer`, `float`, `bool`, or `mixed` when the values
        /// are of several kinds (`match` then compares each as it is; `range` reads the numbers).
        public var type: String
        /// Items holding the field.
        public var items: Int
        /// Distinct values held.
        public var values: Int

        public init(type: String, items: Int, values: Int) {
            self.type = type
            self.items = items
            self.values = values
        }
    }

    /// Every field's inferred type and counts, by name.
    public func summary() -> [String: FieldSummary] {
        var out: [String: FieldSummary] = [:]
        for (field, ids) in present {
            var strings = false, numbers = false, fractions = false, bools = false
            for value in (inverted[field] ?? [:]).keys {
                switch value {
                case .string: strings = true
                case let .number(x): numbers = true; fractions = fractions || x.rounded() != x
                case .bool: bools = true
                }
            }
            let kinds = [strings, numbers, bools].filter { $0 }.count
            var type = kinds > 1 ? "mixed" : strings ? "keyword" : bools ? "bool" : fractions ? "float" : "integer"
            if type == "keyword", ids.contains(where: { (fieldsOf[$0]?[field]?.count ?? 0) > 1 }) { type = "keyword_list" }
            out[field] = FieldSummary(type: type, items: ids.count, values: inverted[field]?.count ?? 0)
        }
        return out
    }

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

    /// The rows of an index that pass `filter`, for `SearchParameters.allowedRows`: `rows` is
    /// the index's row count, `row` maps a live id to its row (`MutableVectorIndex.row(of:)`).
    /// Rows without a live id may be set (`must_not`, `is_null`); searches never return them.
    /// Each posting list, `is_null` set and range is turned into rows once and kept in `cache`
    /// until `generation` changes (pass a number that changes with every write of the payloads
    /// or the index), so a repeated filter costs a few passes over `rows / 64` words. Throws
    /// `FilterError.unknownField` for a field no payload has.
    public func rows(passing filter: PayloadFilter, rows: Int, row: (UInt64) -> Int?,
                     cache: PayloadRowCache, generation: UInt64) throws -> RowBitmap {
        for field in filter.fields where present[field] == nil && inverted[field] == nil {
            throw FilterError.unknownField(field, known: fieldNames)
        }
        cache.begin(generation: generation)
        return passing(filter, rows: rows, row: row, cache: cache)
    }

    private func bitmap(_ ids: Set<UInt64>?, rows: Int, row: (UInt64) -> Int?) -> RowBitmap {
        var out = RowBitmap(rows: rows)
        for id in ids ?? [] { if let r = row(id) { out.insert(r) } }
        return out
    }

    private func passing(_ filter: PayloadFilter, rows: Int, row: (UInt64) -> Int?, cache: PayloadRowCache) -> RowBitmap {
        switch filter {
        case let .group(must, should, mustNot):
            var result = RowBitmap(allRows: rows)
            for f in must { result.formIntersection(passing(f, rows: rows, row: row, cache: cache)) }
            if !should.isEmpty {
                var any = RowBitmap(rows: rows)
                for f in should { any.formUnion(passing(f, rows: rows, row: row, cache: cache)) }
                result.formIntersection(any)
            }
            for f in mustNot { result.subtract(passing(f, rows: rows, row: row, cache: cache)) }
            return result
        case let .match(field, values):
            var out = RowBitmap(rows: rows)
            for v in values {
                // Integers match whether stored as numbers or sent as strings, and the other way.
                var forms = [v]
                if case let .string(s) = v, let x = Double(s) { forms.append(.number(x)) }
                if case .number = v { forms.append(.string(v.text)) }
                for form in forms {
                    out.formUnion(cache.bitmap(.posting(field, form)) { bitmap(inverted[field]?[form], rows: rows, row: row) })
                }
            }
            return out
        case let .range(field, gt, gte, lt, lte):
            return cache.bitmap(.range(field, [gt, gte, lt, lte])) {
                var out = RowBitmap(rows: rows)
                for (id, xs) in numbers[field] ?? [:] {
                    guard let r = row(id), xs.contains(where: { x in
                        (gt.map { x > $0 } ?? true) && (gte.map { x >= $0 } ?? true) && (lt.map { x < $0 } ?? true) && (lte.map { x <= $0 } ?? true)
                    }) else { continue }
                    out.insert(r)
                }
                return out
            }
        case let .isNull(field):
            var out = RowBitmap(allRows: rows)
            out.subtract(cache.bitmap(.present(field)) { bitmap(present[field], rows: rows, row: row) })
            return out
        case let .hasId(set):
            return bitmap(set, rows: rows, row: row)
        }
    }
}

/// Row bitmaps of a `PayloadIndex`'s postings, kept between searches until the payloads or the
/// index change (a new generation). Thread-safe; holds at most `maximumBytes` of bitmaps (each
/// rows ÷ 8 bytes), forgetting them all when full: a workload with more distinct conditions
/// than fit rebuilds them.
public final class PayloadRowCache: Sendable {
    enum Key: Hashable {
        case posting(String, PayloadValue)
        case present(String)
        case range(String, [Double?])
    }

    private struct State {
        var generation: UInt64 = .max
        var bitmaps: [Key: RowBitmap] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())
    public let maximumBytes: Int

    /// `maximumBytes`: memory the kept bitmaps may take; default 64 MiB (about 5,000 bitmaps of
    /// 100k rows, 50 of 10M).
    public init(maximumBytes: Int = 64 << 20) {
        self.maximumBytes = maximumBytes
    }

    /// Bitmaps currently kept.
    public var count: Int { state.withLock { $0.bitmaps.count } }

    func begin(generation: UInt64) {
        state.withLock { s in
            if s.generation != generation {
                s.generation = generation
                s.bitmaps.removeAll()
                s.bytes = 0
            }
        }
    }

    func bitmap(_ key: Key, build: () -> RowBitmap) -> RowBitmap {
        if let hit = state.withLock({ $0.bitmaps[key] }) { return hit }
        let made = build()
        let size = made.words.count * 8
        state.withLock { s in
            if s.bytes + size > maximumBytes {
                s.bitmaps.removeAll()
                s.bytes = 0
            }
            if size <= maximumBytes, s.bitmaps.updateValue(made, forKey: key) == nil { s.bytes += size }
        }
        return made
    }
}
