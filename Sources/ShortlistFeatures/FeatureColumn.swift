/// One feature column of a schema: where its values come from and how they become embedding
/// rows (`FeatureEncoder`).
public struct FeatureColumn: Sendable, Equatable {
    /// How a column's values are encoded.
    public enum Kind: String, Sendable, CaseIterable {
        /// One category per entity (`occupation`, `device`). Unseen values → the out-of-vocabulary row.
        case categorical
        /// Several categories per entity (`genres`, `tags`): a JSON array, or a string split by `separator`.
        case tags
        /// A number, bucketised by the training values' quantiles (`buckets`, default 10).
        case numeric
        /// Free text, lower-cased alphanumeric tokens hashed into `buckets` rows (default 4096).
        case text
        /// Hour of the day (UTC, 24 rows) of a Unix timestamp in seconds; a request may also give the hour 0–23.
        case hour
        /// Day of the week (UTC, Monday = 0, 7 rows) of a Unix timestamp; a request may also give 0–6 or `mon`…`sun`.
        case weekday
    }

    /// The feature's name in the model and in requests (`"features":{"genres":[…]}`).
    public var name: String
    /// The column it is read from in the file (default: `name`). For `hour` and `weekday`
    /// columns on interactions, the timestamp column (default `timestamp`).
    public var column: String
    public var kind: Kind
    /// `tags` in CSV: the separator between values. Default `|`.
    public var separator: String
    /// `numeric`: quantile buckets; `text`: hash buckets. Nil means the kind's default.
    public var buckets: Int?
    /// `categorical` / `tags`: values seen in fewer training rows share the out-of-vocabulary
    /// row (rare values cannot be learned and would only add noise). Default 1.
    public var minCount: Int

    public init(name: String, column: String? = nil, kind: Kind, separator: String = "|", buckets: Int? = nil, minCount: Int = 1) {
        self.name = name
        self.column = column ?? ((kind == .hour || kind == .weekday) ? "timestamp" : name)
        self.kind = kind
        self.separator = separator
        self.buckets = buckets
        self.minCount = minCount
    }

    /// Buckets actually used: `buckets`, or 10 (numeric) / 4096 (text).
    public var bucketCount: Int { buckets ?? (kind == .text ? 4096 : 10) }

    /// Checks the settings; returns a message naming the column.
    package func validate() throws {
        guard !name.isEmpty, name.utf8.count <= 64 else { throw FeatureError.badSchema(reason: "a column name must have 1 to 64 bytes") }
        if let buckets {
            guard (1...(1 << 20)).contains(buckets) else { throw FeatureError.badSchema(reason: "column '\(name)': buckets must be in 1...1048576") }
        }
        guard minCount >= 1 else { throw FeatureError.badSchema(reason: "column '\(name)': min_count must be ≥ 1") }
        guard !separator.isEmpty else { throw FeatureError.badSchema(reason: "column '\(name)': the separator is empty") }
    }
}
