import ShortlistCore

/// Turns a column's raw values into rows of its embedding table. Fitted on the training data
/// (vocabulary, quantile boundaries), then fixed: a value it never saw maps to row 0, the
/// out-of-vocabulary row, so serving never fails on a new category.
///
/// Every kind yields at least one row per entity: a missing value is row 0 too (the model
/// learns what "unknown" means for that field).
///
/// | kind | rows |
/// |---|---|
/// | categorical, tags | 0 = out of vocabulary; 1 + i for `vocabulary[i]` |
/// | numeric | 0 = missing; 1 + the quantile bucket (`boundaries.count + 1` buckets) |
/// | text | 0 = no token; 1 + FNV-1a(lower-cased token) mod buckets |
/// | hour | 0 = missing; 1 + hour of day (UTC) |
/// | weekday | 0 = missing; 1 + day of week (UTC, Monday = 0) |
public struct FeatureEncoder: Sendable, Equatable {
    public let column: FeatureColumn
    /// categorical / tags: the known values; value `vocabulary[i]` has row `i + 1`.
    public let vocabulary: [String]
    /// numeric: ascending bucket boundaries; a value's bucket is the number of boundaries ≤ it.
    public let boundaries: [Double]
    private let rowByValue: [String: Int32]

    public var name: String { column.name }
    public var kind: FeatureColumn.Kind { column.kind }

    init(column: FeatureColumn, vocabulary: [String], boundaries: [Double]) {
        self.column = column
        self.vocabulary = vocabulary
        self.boundaries = boundaries
        rowByValue = Dictionary(vocabulary.enumerated().map { ($1, Int32($0 + 1)) }, uniquingKeysWith: { a, _ in a })
    }

    /// Rows of the field's embedding table.
    public var rowCount: Int {
        switch column.kind {
        case .categorical, .tags: return vocabulary.count + 1
        case .numeric: return boundaries.count + 2
        case .text: return column.bucketCount + 1
        case .hour: return 25
        case .weekday: return 8
        }
    }

    /// Fits the encoder on the training values: `values[e]` are entity (or event) e's raw values.
    public static func fit(_ column: FeatureColumn, values: [[FeatureValue]]) throws -> FeatureEncoder {
        try column.validate()
        switch column.kind {
        case .categorical, .tags:
            var counts: [String: Int] = [:]
            let probe = FeatureEncoder(column: column, vocabulary: [], boundaries: [])
            for list in values {
                for s in Set(probe.categories(list)) { counts[s, default: 0] += 1 }
            }
            let vocabulary = counts.filter { $0.value >= column.minCount }.keys.sorted()
            return FeatureEncoder(column: column, vocabulary: vocabulary, boundaries: [])
        case .numeric:
            var numbers = values.compactMap { $0.last?.number }
            numbers.sort()
            var cuts: [Double] = []
            let buckets = column.bucketCount
            if !numbers.isEmpty && buckets > 1 {
                for b in 1..<buckets {
                    let q = numbers[min(numbers.count - 1, b * numbers.count / buckets)]
                    if cuts.last.map({ q > $0 }) ?? true { cuts.append(q) }
                }
                if cuts.first == numbers.first { cuts.removeFirst() }
            }
            return FeatureEncoder(column: column, vocabulary: [], boundaries: cuts)
        case .text, .hour, .weekday:
            return FeatureEncoder(column: column, vocabulary: [], boundaries: [])
        }
    }

    /// The category strings of categorical / tags values (a CSV cell of tags is split by the
    /// separator; categorical keeps the last value of an entity with several).
    private func categories(_ values: [FeatureValue]) -> [String] {
        if column.kind == .categorical { return values.last.map { [$0.strings.last!.trimmedSpaces] } ?? [] }
        var out: [String] = []
        for v in values {
            switch v {
            case let .text(s): out += s.split(separator: column.separator).map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
            default: out += v.strings
            }
        }
        return out
    }

    /// Appends the rows of `values` (one entity's raw values; empty = missing) to `rows`,
    /// without duplicates. Always appends at least one row.
    public func encode(_ values: [FeatureValue], into rows: inout [Int32]) {
        let start = rows.count
        switch column.kind {
        case .categorical, .tags:
            for s in categories(values) {
                let r = rowByValue[s] ?? 0
                if !rows[start...].contains(r) { rows.append(r) }
            }
        case .numeric, .hour, .weekday:
            if let value = values.last { rows.append(singleRow(value)) }
        case .text:
            let buckets = UInt64(column.bucketCount)
            for v in values {
                for s in v.strings {
                    for token in TextTokens.tokens(Substring(s)) {
                        let r = Int32(1 + TextTokens.hash(token) % buckets)
                        if !rows[start...].contains(r) { rows.append(r) }
                    }
                }
            }
        }
        if rows.count == start { rows.append(0) }
    }

    /// The one row of a single value of a single-valued kind (categorical, numeric, hour,
    /// weekday), without allocating: what a request's context becomes. Other kinds, and values
    /// that are lists, give their first row.
    public func singleRow(_ value: FeatureValue) -> Int32 {
        switch (column.kind, value) {
        case let (.categorical, .text(s)): return rowByValue[s] ?? rowByValue[s.trimmedSpaces] ?? 0
        case (.numeric, _):
            guard let x = value.number else { return 0 }
            var lo = 0, hi = boundaries.count
            while lo < hi { let mid = (lo + hi) / 2; if boundaries[mid] <= x { lo = mid + 1 } else { hi = mid } }
            return Int32(1 + lo)
        case (.hour, _): return Self.hour(value).map { Int32(1 + $0) } ?? 0
        case (.weekday, _): return Self.weekday(value).map { Int32(1 + $0) } ?? 0
        default: return encode([value]).first!
        }
    }

    /// The rows of `values`, as a new array.
    public func encode(_ values: [FeatureValue]) -> [Int32] {
        var rows: [Int32] = []
        encode(values, into: &rows)
        return rows
    }

    /// The hour 0–23 of a value: an hour given as such (0–23), or a Unix timestamp in seconds
    /// (≥ 86400) in UTC. Nil otherwise.
    static func hour(_ value: FeatureValue) -> Int? {
        guard let x = value.number else { return nil }
        if x >= 86_400 { return Int((x / 3600).rounded(.down)) % 24 }
        return x >= 0 && x < 24 && x.rounded() == x ? Int(x) : nil
    }

    private static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// The day of the week 0–6 (Monday = 0) of a value: a day number 0–6, a name (`mon`,
    /// `Monday`, …), or a Unix timestamp in seconds (≥ 86400, UTC; 1 January 1970 was a Thursday).
    static func weekday(_ value: FeatureValue) -> Int? {
        if case let .text(s) = value, let i = dayNames.firstIndex(of: String(s.lowercased().prefix(3))) { return i }
        guard let x = value.number else { return nil }
        if x >= 86_400 { return (Int((x / 86_400).rounded(.down)) + 3) % 7 }
        return x >= 0 && x < 7 && x.rounded() == x ? Int(x) : nil
    }

    // MARK: serialization (the model file's `ENCD` section)

    /// Appends this encoder to `w`.
    public func write(to w: inout BinaryWriter) {
        w.write(column.name)
        w.write(column.column)
        w.write(column.kind.rawValue)
        w.write(column.separator)
        w.write(UInt64(column.buckets ?? 0))
        w.write(UInt64(column.minCount))
        w.write(UInt64(vocabulary.count))
        for v in vocabulary { w.write(v) }
        w.write(UInt64(boundaries.count))
        for b in boundaries { w.write(b.bitPattern) }
    }

    /// Reads an encoder written by `write(to:)`.
    public static func read(from r: inout BinaryReader) throws -> FeatureEncoder {
        let name = try r.readString(), source = try r.readString()
        let kindName = try r.readString()
        guard let kind = FeatureColumn.Kind(rawValue: kindName) else { throw FeatureError.badSchema(reason: "unknown column kind '\(kindName)'") }
        let separator = try r.readString()
        let buckets = Int(try r.readUInt64()), minCount = Int(try r.readUInt64())
        let column = FeatureColumn(name: name, column: source, kind: kind, separator: separator, buckets: buckets == 0 ? nil : buckets, minCount: max(1, minCount))
        try column.validate()
        let vocabularyCount = Int(try r.readUInt64())
        try r.require(vocabularyCount * 4)
        let vocabulary = try (0..<vocabularyCount).map { _ in try r.readString() }
        let boundaryCount = Int(try r.readUInt64())
        try r.require(boundaryCount * 8)
        let boundaries = try (0..<boundaryCount).map { _ in Double(bitPattern: try r.readUInt64()) }
        guard boundaries.allSatisfy(\.isFinite), zip(boundaries, boundaries.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw FeatureError.badSchema(reason: "column '\(name)': bucket boundaries are not ascending")
        }
        return FeatureEncoder(column: column, vocabulary: vocabulary, boundaries: boundaries)
    }
}
